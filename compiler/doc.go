// Package compiler is bfc's middle end: name, import and dimension
// resolution and shape checking (compiler/check), the IR (compiler/ir),
// lowering of checked models to IR (compiler/lower), reverse-mode autodiff
// (compiler/autodiff), and the driver that runs them in order.
package compiler
