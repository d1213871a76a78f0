package kernels

// GemmStreamB computes the product of Gemm, C = alpha*op(A)*op(B) + beta*C,
// for a large op(B) that few rows of op(A) use, such as one expert's
// weights applied to the tokens it took, where streaming B from memory
// dominates. Gemm packs B nr columns at a time, a pass over it that few
// rows cannot repay; GemmStreamB has the micro-kernel read B in place,
// as its right operand (kernelS, up to gemmInPlaceMaxM rows) or, for
// transB, as the left operand of Cᵀ = B·op(A)ᵀ, so that only the small
// op(A) is packed; between gemmInPlaceMaxM and gemmStreamMaxM rows it
// packs B row by row (long sequential reads). It stays on the
// calling goroutine (callers are parallel over experts). More rows than
// gemmStreamMaxM (gemmStreamMaxMT for transB), float64 and CPUs without
// a float32 micro-kernel go to Gemm. Every sum runs in Gemm's order: for
// alpha = 1 and beta 0 or 1 the results equal Gemm's bit for bit.
func GemmStreamB[F Float](transA, transB bool, m, n, k int, alpha F, a []F, lda int, b []F, ldb int, beta F, c []F, ldc int) {
	checkGemm(transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	s := sgemmUse
	maxM := gemmStreamMaxM
	if transB {
		maxM = gemmStreamMaxMT
	}
	if !is32[F]() || s.kernel == nil || s.kernelS == nil || m > maxM || m == 0 || n == 0 || k == 0 || alpha == 0 {
		Gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if transB {
		s.gemmStream(transA, m, n, k, float32(alpha), as32(a), lda, as32(b), ldb, float32(beta), as32(c), ldc)
	} else if m <= gemmInPlaceMaxM {
		s.gemmInPlaceB(transA, m, n, k, float32(alpha), as32(a), lda, as32(b), ldb, float32(beta), as32(c), ldc)
	} else {
		s.gemmRowPacked(transA, m, n, k, float32(alpha), as32(a), lda, as32(b), ldb, float32(beta), as32(c), ldc)
	}
}

// gemmStreamMaxM and gemmStreamMaxMT are the most rows of op(A)
// GemmStreamB handles itself without and with transB; beyond them Gemm's
// blocking pays off (the packed op(A)ᵀ of Cᵀ = B·op(A)ᵀ, kc × 256 floats
// at most, must stay in L2). Up to 256 rows with transB, reading B in
// place beats Gemm's transposed packing of it: an expert-choice layer's
// forward+backward at 128 rows per expert (2048 tokens, 32 experts) took
// about 80 ms instead of 104.
const (
	gemmStreamMaxM  = 512
	gemmStreamMaxMT = 256
)

// gemmInPlaceMaxM is the most rows of op(A) for which GemmStreamB reads
// B in place (gemmInPlaceB); more rows pack it (gemmRowPacked). A panel
// of B read in place has its rows ldb apart, often in the same few L1
// sets, so it is read again from L2 for every row panel: cheaper than a
// packing pass for a few row panels, dearer for many.
const gemmInPlaceMaxM = 128

// streamScratch is one caller's packed op(A)ᵀ block, short op(B)ᵀ panel
// and Cᵀ tile.
type streamScratch struct {
	pb, pa, tile []float32
	ct           []float32 // Cᵀ of gemmStream, grown as needed
}

var streamScratches = freePool{New: func() any { return nil }}

func (s *sgemmImpl) getStreamScratch() *streamScratch {
	if x, ok := streamScratches.Get().(*streamScratch); ok && len(x.tile) == s.mr*s.nr {
		return x
	}
	return &streamScratch{
		pb:   make([]float32, s.kc*max(roundUp(gemmStreamMaxMT, s.nr), sgemmNB)),
		pa:   make([]float32, s.mr*s.kc),
		tile: make([]float32, s.mr*s.nr),
	}
}

// gemmStream runs Cᵀ = op(B)ᵀ·op(A)ᵀ on the micro-kernel: its left
// operand op(B)ᵀ is read in place, its right operand op(A)ᵀ (k×m) is
// packed. Cᵀ is formed in scratch, m rounded up to nr columns, where the
// kernel stores whole tiles, and transposed into C at the end: storing
// each tile transposed straight into C wrote 12 floats into each of 32
// rows ldc apart, which at ldc = 1024 all fall in one L1 set.
func (s *sgemmImpl) gemmStream(transA bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	mr, nr := s.mr, s.nr
	sc := s.getStreamScratch()
	mp := roundUp(m, nr)
	if cap(sc.ct) < n*mp {
		sc.ct = make([]float32, n*mp)
	}
	ct := sc.ct[:n*mp]
	if beta != 0 {
		transposeF32(ct, mp, c, ldc, m, n)
	}
	// op(B)ᵀ = B is read in place.
	rs, cs := ldb, 1
	for p0 := 0; p0 < k; p0 += s.kc {
		kc := min(s.kc, k-p0)
		bt := beta
		if p0 > 0 {
			bt = 1
		}
		// op(A)ᵀ[p, j] = op(A)[j, p]: a panel of it is op(A) transposed.
		packBPanels(sc.pb, a, lda, !transA, p0, 0, kc, m, nr)
		for i := 0; i < n; i += mr {
			mcur := min(mr, n-i)
			if mcur == mr {
				ap := &b[i*rs+p0*cs]
				for jr := 0; jr < m; jr += nr {
					s.kernel(kc, ap, rs, cs, &sc.pb[jr*kc], &ct[i*mp+jr], mp, alpha, bt)
				}
				continue
			}
			packStreamA(sc.pa, b, ldb, false, i, p0, mcur, kc, mr)
			for jr := 0; jr < m; jr += nr {
				s.kernel(kc, &sc.pa[0], 1, mr, &sc.pb[jr*kc], &sc.tile[0], nr, 1, 0)
				storeEdge(ct, mp, i, jr, mcur, nr, sc.tile, nr, alpha, bt)
			}
		}
	}
	transposeF32(c, ldc, ct, mp, n, m)
	streamScratches.Put(sc)
}

// transposeF32 sets dst[j*ldd + i] = src[i*lds + j] for i < rows,
// j < cols, in 8×8 blocks so that both sides move along rows.
func transposeF32(dst []float32, ldd int, src []float32, lds int, rows, cols int) {
	const bs = 8
	for i0 := 0; i0 < rows; i0 += bs {
		i1 := min(i0+bs, rows)
		for j0 := 0; j0 < cols; j0 += bs {
			j1 := min(j0+bs, cols)
			if i1-i0 == bs && j1-j0 == bs {
				var blk [bs][bs]float32
				for i := range bs {
					blk[i] = *(*[bs]float32)(src[(i0+i)*lds+j0:])
				}
				for j := range bs {
					d := (*[bs]float32)(dst[(j0+j)*ldd+i0:])
					for i := range bs {
						d[i] = blk[i][j]
					}
				}
				continue
			}
			for i := i0; i < i1; i++ {
				for j := j0; j < j1; j++ {
					dst[j*ldd+i] = src[i*lds+j]
				}
			}
		}
	}
}

// packStreamA packs rows i0..i0+mcur (mcur ≤ mr), columns p0..p0+kc of Y
// into dst[p*mr + r], zero padded to mr rows, where Y[i, p] = y[p*ld + i]
// when trans, else y[i*ld + p].
func packStreamA(dst, y []float32, ld int, trans bool, i0, p0, mcur, kc, mr int) {
	dst = dst[:kc*mr]
	clear(dst)
	for r := range mcur {
		for p := range kc {
			if trans {
				dst[p*mr+r] = y[(p0+p)*ld+i0+r]
			} else {
				dst[p*mr+r] = y[(i0+r)*ld+p0+p]
			}
		}
	}
}

// gemmInPlaceB runs C = alpha*op(A)*B + beta*C like Gemm's serial path,
// with B read in place by kernelS instead of packed: for each kc slice,
// column panel by column panel, every row panel of op(A) against it. The
// kc×nr panel of B comes from memory once, ahead of use (the kernel
// prefetches the next panel into L2), and from L2 for the other row
// panels, with no packing pass (see gemmInPlaceMaxM). The last rows of op(A) run on a shorter tile when the
// implementation has one of their height (kernelSRows), else they are
// packed into a zero-padded panel once per slice; a last, narrower
// panel of B is packed (reading it in place would run past B's columns).
func (s *sgemmImpl) gemmInPlaceB(transA bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	mr, nr := s.mr, s.nr
	sc := s.getStreamScratch()
	mfull := m / mr * mr
	short := s.kernelSRows[m-mfull] // nil when none fits
	for p0 := 0; p0 < k; p0 += s.kc {
		kc := min(s.kc, k-p0)
		bt := beta
		if p0 > 0 {
			bt = 1
		}
		if mfull < m {
			packStreamA(sc.pa, a, lda, transA, mfull, p0, m-mfull, kc, mr)
		}
		for jr := 0; jr < n; jr += nr {
			ncur := min(nr, n-jr)
			if ncur < nr {
				packRowsToPanels(sc.pb, b, ldb, p0, jr, kc, ncur, nr)
			}
			for i := 0; i < m; i += mr {
				mcur := min(mr, m-i)
				ap, rs, cs := inPlaceA(a, lda, transA, i, p0)
				switch {
				case mcur == mr && ncur == nr:
					s.kernelS(kc, ap, rs, cs, &b[p0*ldb+jr], ldb, &c[i*ldc+jr], ldc, alpha, bt)
					continue
				case short != nil && ncur == nr:
					// The last rows, read in place, on a tile of their height.
					short(kc, ap, rs, cs, &b[p0*ldb+jr], ldb, &c[i*ldc+jr], ldc, alpha, bt)
					continue
				case mcur < mr:
					ap, rs, cs = &sc.pa[0], 1, mr
				}
				switch {
				case ncur == nr:
					s.kernelS(kc, ap, rs, cs, &b[p0*ldb+jr], ldb, &sc.tile[0], nr, 1, 0)
				default:
					s.kernel(kc, ap, rs, cs, &sc.pb[0], &sc.tile[0], nr, 1, 0)
				}
				storeEdge(c, ldc, i, jr, mcur, ncur, sc.tile, nr, alpha, bt)
			}
		}
	}
	streamScratches.Put(sc)
}

// gemmRowPacked runs C = alpha*op(A)*B + beta*C like Gemm's serial path,
// but packs each kc×sgemmNB block of B row by row, so that B streams
// from memory in long runs instead of nr columns at a time.
func (s *sgemmImpl) gemmRowPacked(transA bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	mr, nr := s.mr, s.nr
	sc := s.getStreamScratch()
	for j0 := 0; j0 < n; j0 += sgemmNB {
		nc := min(sgemmNB, n-j0)
		for p0 := 0; p0 < k; p0 += s.kc {
			kc := min(s.kc, k-p0)
			bt := beta
			if p0 > 0 {
				bt = 1
			}
			packRowsToPanels(sc.pb, b, ldb, p0, j0, kc, nc, nr)
			for i := 0; i < m; i += mr {
				mcur := min(mr, m-i)
				ap, rs, cs := inPlaceA(a, lda, transA, i, p0)
				if mcur < mr {
					packStreamA(sc.pa, a, lda, transA, i, p0, mcur, kc, mr)
					ap, rs, cs = &sc.pa[0], 1, mr
				}
				for jr := 0; jr < nc; jr += nr {
					ncur := min(nr, nc-jr)
					bp := &sc.pb[jr*kc]
					if mcur == mr && ncur == nr {
						s.kernel(kc, ap, rs, cs, bp, &c[i*ldc+j0+jr], ldc, alpha, bt)
						continue
					}
					s.kernel(kc, ap, rs, cs, bp, &sc.tile[0], nr, 1, 0)
					storeEdge(c, ldc, i, j0+jr, mcur, ncur, sc.tile, nr, alpha, bt)
				}
			}
		}
	}
	streamScratches.Put(sc)
}

// packRowsToPanels packs rows p0..p0+kc, columns j0..j0+nc of the
// row-major b into panels of nr columns, dst[jr*kc + p*nr + q] =
// b[(p0+p)*ldb + j0+jr+q], zero padded past nc, reading b row by row.
func packRowsToPanels(dst, b []float32, ldb, p0, j0, kc, nc, nr int) {
	full := nc / nr * nr
	for p := range kc {
		src := b[(p0+p)*ldb+j0 : (p0+p)*ldb+j0+nc]
		jr := 0
		if nr == 32 && full > 0 {
			if packRow32Asm != nil {
				// Bounds: the last full panel's row p.
				_ = dst[(full-32)*kc+p*32+31]
				packRow32Asm(&dst[p*32], &src[0], kc, full/32)
				jr = full
			}
			for ; jr < full; jr += 32 {
				copy32(dst[jr*kc+p*32:], src[jr:])
			}
		}
		for ; jr < full; jr += nr {
			copy(dst[jr*kc+p*nr:jr*kc+p*nr+nr], src[jr:jr+nr])
		}
		if full < nc {
			d := dst[full*kc+p*nr : full*kc+p*nr+nr]
			copy(d, src[full:])
			clear(d[nc-full:])
		}
	}
}

// packRow32Asm, if not nil, is an assembly copy of one row of B into
// consecutive 32-column panels (see sgemmPackRow32AVX512).
var packRow32Asm func(dst *float32, src *float32, kc int, panels int)

// copy32 copies 32 floats in 16-byte pieces, which the compiler keeps
// inline (a [32]float32 copy becomes a memmove call).
func copy32(dst, src []float32) {
	d, s := (*[32]float32)(dst), (*[32]float32)(src)
	*(*[4]float32)(d[0:]) = *(*[4]float32)(s[0:])
	*(*[4]float32)(d[4:]) = *(*[4]float32)(s[4:])
	*(*[4]float32)(d[8:]) = *(*[4]float32)(s[8:])
	*(*[4]float32)(d[12:]) = *(*[4]float32)(s[12:])
	*(*[4]float32)(d[16:]) = *(*[4]float32)(s[16:])
	*(*[4]float32)(d[20:]) = *(*[4]float32)(s[20:])
	*(*[4]float32)(d[24:]) = *(*[4]float32)(s[24:])
	*(*[4]float32)(d[28:]) = *(*[4]float32)(s[28:])
}
