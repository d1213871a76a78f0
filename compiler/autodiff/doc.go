// Package autodiff derives a program's backward list by reverse-mode
// differentiation.
//
// The gradient of each forward op is a Rule in the Rules table, keyed by
// op. Differentiate walks the forward list backwards; for every
// instruction that a gradient reaches and that has an argument needing one,
// it runs the op's rule, which emits backward instructions (the backward ops
// of compiler/ir, and matmuls with Acc) that accumulate into the
// arguments' gradients. Gradients of activations are temps created on first
// use; parameter gradients are KindGrad values named "grad/<param>". Every
// gradient is marked with GradOf and must be zeroed before the backward list
// runs, since all backward instructions accumulate.
package autodiff
