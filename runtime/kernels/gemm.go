package kernels

import "fmt"

// Gemm computes C = alpha*op(A)*op(B) + beta*C, where op(A) is m×k, op(B) is
// k×n and C is m×n, all row-major with leading dimensions lda, ldb, ldc.
// op(X) is X, or Xᵀ when the trans flag is set. As in BLAS, beta == 0
// overwrites C without reading it. The reference loop is
//
//	for i := range m {
//		for j := range n {
//			var s F
//			for p := range k {
//				s += opA(i, p) * opB(p, j)
//			}
//			c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
//		}
//	}
//
// Large products run in parallel on all cores. float32 products run on an
// assembly micro-kernel when the CPU has one (AVX-512F, else AVX2+FMA, on
// amd64 without the purego build tag; see sgemmImpls), otherwise on the
// generic engine; the float32 blocking is described at sgemmNC (A packed,
// on one goroutine for large products) and sgemmNB (A read in place).
// Results do not depend on the number of cores, but roundings differ
// between implementations.
func Gemm[F Float](transA, transB bool, m, n, k int, alpha F, a []F, lda int, b []F, ldb int, beta F, c []F, ldc int) {
	checkGemm(transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	if is32[F]() {
		gemm(transA, transB, m, n, k, float32(alpha), as32(a), lda, as32(b), ldb, float32(beta), as32(c), ldc, true)
	} else {
		gemm(transA, transB, m, n, k, float64(alpha), as64(a), lda, as64(b), ldb, float64(beta), as64(c), ldc, true)
	}
}

// checkGemm panics with a clear message when the arguments cannot describe
// the product.
func checkGemm(transA, transB bool, m, n, k, na, lda, nb, ldb, nc, ldc int) {
	checkGemmOf("Gemm", transA, transB, m, n, k, na, lda, nb, ldb, nc, ldc)
}

// checkGemmOf is checkGemm for the kernel named fn.
func checkGemmOf(fn string, transA, transB bool, m, n, k, na, lda, nb, ldb, nc, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("kernels.%s: negative size m=%d n=%d k=%d", fn, m, n, k))
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	checkMat(fn, "A", ar, ac, na, lda)
	checkMat(fn, "B", br, bc, nb, ldb)
	checkMat(fn, "C", m, n, nc, ldc)
}

func checkMat(fn, name string, rows, cols, n, ld int) {
	if ld < max(cols, 1) {
		panic(fmt.Sprintf("kernels.%s: ld%s=%d < %d columns", fn, name, ld, cols))
	}
	if rows > 0 && cols > 0 && n < (rows-1)*ld+cols {
		panic(fmt.Sprintf("kernels.%s: %s has %d elements, need %d for %d×%d with ld %d", fn, name, n, (rows-1)*ld+cols, rows, cols, ld))
	}
}
