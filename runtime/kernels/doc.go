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
// allocates. The kernels are pure Go for now; the GEMM engine (packed
// panels plus a register micro-kernel) is where assembly will plug in.
package kernels
