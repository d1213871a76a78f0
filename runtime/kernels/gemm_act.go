package kernels

// GemmAct computes Gemm's C = alpha*op(A)*op(B) + beta*C and out =
// act(C) on the m×n block, out row-major with leading dimension ldo. C is
// the same as Gemm's and out the same as Activate's on it, bit for bit;
// the activation runs on each part of C as soon as that part is final,
// inside Gemm's parallel chunks, while it is still in cache. out may be c
// itself (with ldo = ldc) but must not otherwise overlap C, A or B.
func GemmAct[F Float](act Act, transA, transB bool, m, n, k int, alpha F, a []F, lda int, b []F, ldb int, beta F, c []F, ldc int, out []F, ldo int) {
	checkGemmOf("GemmAct", transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	checkMat("GemmAct", "out", m, n, len(out), ldo)
	checkAct(act)
	if is32[F]() {
		ep := gemmEpilogue[float32]{act: act, out: as32(out), ldo: ldo}
		gemmEp(transA, transB, m, n, k, float32(alpha), as32(a), lda, as32(b), ldb, float32(beta), as32(c), ldc, true, ep)
	} else {
		ep := gemmEpilogue[float64]{act: act, out: as64(out), ldo: ldo}
		gemmEp(transA, transB, m, n, k, float64(alpha), as64(a), lda, as64(b), ldb, float64(beta), as64(c), ldc, true, ep)
	}
}

// gemmEpilogue is the work a product does on each final part of C: none
// when out is nil (Gemm), else out = act(C) (GemmAct).
type gemmEpilogue[T real] struct {
	act Act
	out []T
	ldo int
}

// apply runs the epilogue on rows i0..i0+m, columns j0..j0+n of C, with
// Activate's per-element kernels.
func (e *gemmEpilogue[T]) apply(c []T, ldc, i0, j0, m, n int) {
	if e.out == nil {
		return
	}
	var va *vecAct
	if is32[T]() {
		va = vecUse.act(e.act)
	}
	for i := i0; i < i0+m; i++ {
		x := c[i*ldc+j0 : i*ldc+j0+n]
		y := e.out[i*e.ldo+j0 : i*e.ldo+j0+n]
		if va != nil {
			va.fwd(as32(y), as32(x))
		} else {
			actApply(e.act, y, x)
		}
	}
}
