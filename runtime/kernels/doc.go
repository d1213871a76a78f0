// Package kernels holds the slice-level numeric kernels that generated bfc
// code calls: GEMM, embeddings, norms, activations, attention, losses.
//
// Every kernel is generic over [Float] (float32 for training, float64 for
// finite-difference gradient checks). Matrices are row-major. Forward
// kernels overwrite their outputs; backward kernels accumulate (+=) into
// every gradient output, so callers zero gradient buffers first.
package kernels
