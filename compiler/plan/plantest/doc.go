// Package plantest builds small, hand-made IR programs, forward and
// backward, for tests of the planner and the code generator that must not
// depend on lowering and autodiff: a model is described by a Config and
// turned into an ir.Program by Build, whose backward list follows the
// gradient rule of each op directly.
//
// The programs are numerically meaningful: the backward list is the exact
// gradient of the loss, so generated code built from them can be checked
// against finite differences.
package plantest
