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
// the fallback everywhere else and under the purego build tag.
//
// The float32 element-wise kernels (activations with their GLU and
// backward forms, softmax, cross-entropy, RMSNorm, LayerNorm, Add, AddTo,
// Scale, SumSquares, AllFinite, and the row operations of the moe gather
// and scatter-add: ScaleTo, Axpy, Dot) run likewise on AVX-512 (16 lanes,
// masked tails) or AVX2+FMA (8 lanes) assembly written by the avo program in internal/asmgen/vecmath (go
// generate). Their exp (Cody-Waite reduction, degree-7 polynomial, exact
// scaling) is within 1.5e-7 relative, denormal results included, +Inf
// above 88.72, NaN for NaN; GELU's Φ comes from a Chebyshev erfc
// (Numerical Recipes erfcc, 1.2e-7 relative), so GELU, GELU-tanh, SiLU and
// their derivatives are within 2e-7·(1+|y|), and GELU within 1e-5
// relative down to x = -13. Sums are kept in float64. The pure-Go fallback
// computes in float64 with expFast and A&S 7.1.26 erf (within 3e-7·(1+|y|)).
// float64 kernels use package math throughout: they serve gradient checks.
//
// bf16 precision (GemmBF16, GemmActBF16, AttentionBF16 and its backward and
// decode forms) rounds product operands to bfloat16 (BF16: ties to even,
// NaN kept) and sums in float32. It runs on AMX-BF16 tiles (32×32 C tiles,
// TDPBF16PS) or AVX512_BF16 (12×32, VDPBF16PS), both with operands
// converted while packed, or else on the float32 kernels over rounded
// copies (BF16Impl names the choice). Go's assembler lacks these
// instructions; gemm_make.go and bf16_make.go emit their encodings.
package kernels
