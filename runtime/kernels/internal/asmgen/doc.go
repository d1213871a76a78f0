// Package asmgen holds the avo programs that write bfc's element-wise
// AVX-512 and AVX2 kernels (one main package per output file, in its own
// directory). It is a separate module so that bfc itself does not depend on
// avo; the go:generate lines in runtime/kernels run it and CI fails on any
// difference from the committed assembly.
package asmgen
