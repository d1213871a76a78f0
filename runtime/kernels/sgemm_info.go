package kernels

// SgemmKernel names the float32 GEMM micro-kernel this process uses
// ("avx512", "avx2" or "generic"), for benchmark reports.
func SgemmKernel() string { return sgemmUse.name }
