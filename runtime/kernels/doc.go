// Package kernels holds the slice-level numeric kernels that generated bfc
// code calls: GEMM, embeddings, norms, activations, attention, losses.
//
// Every kernel is generic over [Float] (float32 for training, float64 for
// finite-difference gradient checks). Matrices are row-major. Forward
// kernels overwrite their outputs; backward kernels accumulate (+=) into
// every gradient output, so callers zero gradient buffers first.
//
// Large calls run on all cores through a pool of persistent workers, and
// reductions split work independently of the core count, so results do not
// depend on GOMAXPROCS. Scratch space is pooled: in steady state no kernel
// allocates. float32 GEMM runs on assembly micro-kernels (AVX-512 12×32,
// AVX2/FMA 6×16) chosen at run time by CPU features; the pure-Go code is
// the fallback everywhere else and under the purego build tag. float32
// exp and erf use fast approximations whose errors are tested to lie below
// float32 rounding.
package kernels
