// Package eval interprets an ir.Program with the real runtime kernels
// (runtime/kernels), in float32 or float64. It exists for tests: gradient
// checks of every autodiff rule and of whole lowered models run the IR
// here, in float64, without generating code. It is the one compiler package
// that imports runtime/: the kernels, and runtime/moe for moe layers, each
// of which gets one moe.Workspace (by MoEAttrs.Workspace) shared by its
// forward and backward instructions.
package eval
