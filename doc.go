// Package bfc is the root of the bfc module: a compiler from .bf block
// specifications of transformer and mixture-of-experts models to
// specialised Go training and inference code. The command is cmd/bfc; the
// packages are lang (front end), compiler (checking, IR, autodiff), codegen
// (Go generation) and runtime (the kernels generated code calls).
package bfc
