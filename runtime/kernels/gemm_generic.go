package kernels

import "runtime"

// real is the set of exact element types the engines are instantiated with;
// exported kernels convert ~float32/~float64 slices to these first.
type real interface{ float32 | float64 }

// Blocking of the GEMM engine (GotoBLAS/BLIS style): C is cut into tiles of
// at most gemmMC×gemmNC, each owned by one goroutine; for every gemmKC-deep
// slice of k, the tile's A block and B block are packed into panels of
// gemmMR rows and gemmNR columns and multiplied by the micro-kernel.
const (
	gemmMR = 2
	gemmNR = 2
	gemmKC = 256
	gemmMC = 128 // multiple of gemmMR
	gemmNC = 256 // multiple of gemmNR

	// gemmSerialFlops is the product size below which Gemm stays on the
	// calling goroutine.
	gemmSerialFlops = 1 << 21
)

// gemmJob describes one product and its tiling.
type gemmJob[T real] struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    T
	a, b, c        []T
	lda, ldb, ldc  int
	mc, nc         int // tile size
	mt, nt         int // tiles along m and n
	ep             gemmEpilogue[T]
}

// gemmScratch holds one participant's packed panels.
type gemmScratch[T real] struct {
	pa []T // gemmMC×gemmKC
	pb []T // gemmKC×gemmNC
}

var (
	gemmJobs32    = freePool{New: func() any { return new(gemmJob[float32]) }}
	gemmJobs64    = freePool{New: func() any { return new(gemmJob[float64]) }}
	gemmScratch32 = freePool{New: func() any { return newGemmScratch[float32]() }}
	gemmScratch64 = freePool{New: func() any { return newGemmScratch[float64]() }}
)

func newGemmScratch[T real]() *gemmScratch[T] {
	return &gemmScratch[T]{pa: make([]T, gemmMC*gemmKC), pb: make([]T, gemmKC*gemmNC)}
}

// pick returns p32 or p64 according to T.
func pick[T real, P any](p32, p64 *P) *P {
	var z T
	if _, ok := any(z).(float32); ok {
		return p32
	}
	return p64
}

func getGemmScratch[T real]() *gemmScratch[T] {
	return pick[T](&gemmScratch32, &gemmScratch64).Get().(*gemmScratch[T])
}

func putGemmScratch[T real](s *gemmScratch[T]) {
	pick[T](&gemmScratch32, &gemmScratch64).Put(s)
}

// gemm is the engine behind Gemm. With par false it never leaves the
// calling goroutine (for callers that are already parallel).
func gemm[T real](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int, par bool) {
	gemmEp(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, par, gemmEpilogue[T]{})
}

// gemmEp is gemm with an epilogue (GemmAct's activation) applied to
// every part of C once it is final.
func gemmEp[T real](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int, par bool, ep gemmEpilogue[T]) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleMat(c, m, n, ldc, beta)
		ep.apply(c, ldc, 0, 0, m, n)
		return
	}
	if c32, ok := any(c).([]float32); ok && sgemmUse.kernel != nil {
		ep32 := any(ep).(gemmEpilogue[float32])
		sgemmUse.gemm(transA, transB, m, n, k, float32(alpha), any(a).([]float32), lda, any(b).([]float32), ldb, float32(beta), c32, ldc, par, ep32)
		return
	}
	g := gemmJob[T]{
		transA: transA, transB: transB, m: m, n: n, k: k,
		alpha: alpha, beta: beta, a: a, b: b, c: c, lda: lda, ldb: ldb, ldc: ldc,
		mc: gemmMC, nc: gemmNC, ep: ep,
	}
	procs := runtime.GOMAXPROCS(0)
	if !par || procs == 1 || 2*m*n*k < gemmSerialFlops {
		g.mt, g.nt = ceilDiv(m, g.mc), ceilDiv(n, g.nc)
		s := getGemmScratch[T]()
		for i := range g.mt * g.nt {
			g.tile(i, s)
		}
		putGemmScratch(s)
		return
	}
	// Shrink tiles until every core has a few to balance the load.
	for ceilDiv(m, g.mc)*ceilDiv(n, g.nc) < 4*procs {
		if g.mc > 32 && g.mc >= g.nc/2 {
			g.mc /= 2
		} else if g.nc > 32 {
			g.nc /= 2
		} else {
			break
		}
	}
	g.mt, g.nt = ceilDiv(m, g.mc), ceilDiv(n, g.nc)
	pool := pick[T](&gemmJobs32, &gemmJobs64)
	pg := pool.Get().(*gemmJob[T])
	*pg = g
	runParallel(pg, g.mt*g.nt)
	*pg = gemmJob[T]{}
	pool.Put(pg)
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// scaleMat sets C = beta*C (C = 0 when beta is 0, even over NaN).
func scaleMat[T real](c []T, m, n, ldc int, beta T) {
	if beta == 1 {
		return
	}
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

func (g *gemmJob[T]) runChunks(j *parJob) {
	s := getGemmScratch[T]()
	for i, ok := j.claim(); ok; i, ok = j.claim() {
		g.tile(i, s)
	}
	putGemmScratch(s)
}

// tile computes C tile idx (column-major order over the tile grid).
func (g *gemmJob[T]) tile(idx int, s *gemmScratch[T]) {
	i0 := (idx % g.mt) * g.mc
	j0 := (idx / g.mt) * g.nc
	mc := min(g.mc, g.m-i0)
	nc := min(g.nc, g.n-j0)
	ct := g.c[i0*g.ldc+j0:]
	scaleMat(ct, mc, nc, g.ldc, g.beta)
	for p0 := 0; p0 < g.k; p0 += gemmKC {
		kc := min(gemmKC, g.k-p0)
		packB(s.pb, g.b, g.ldb, g.transB, p0, j0, kc, nc)
		packA(s.pa, g.a, g.lda, g.transA, i0, p0, mc, kc)
		macroKernel(kc, mc, nc, s.pa, s.pb, ct, g.ldc, g.alpha)
	}
	g.ep.apply(g.c, g.ldc, i0, j0, mc, nc)
}

// packA packs rows i0..i0+mc, columns p0..p0+kc of op(A) into panels of
// gemmMR rows: dst[ir*kc + p*gemmMR + r] = op(A)[i0+ir+r, p0+p], zero
// padded past mc.
func packA[T real](dst, a []T, lda int, trans bool, i0, p0, mc, kc int) {
	for ir := 0; ir < mc; ir += gemmMR {
		panel := dst[ir*kc : ir*kc+kc*gemmMR]
		mr := min(gemmMR, mc-ir)
		if trans {
			// op(A)[i, p] = a[p*lda + i]
			for p := range kc {
				src := a[(p0+p)*lda+i0+ir:]
				d := panel[p*gemmMR : p*gemmMR+gemmMR]
				for r := range mr {
					d[r] = src[r]
				}
				for r := mr; r < gemmMR; r++ {
					d[r] = 0
				}
			}
			continue
		}
		// op(A)[i, p] = a[i*lda + p]
		for r := range mr {
			src := a[(i0+ir+r)*lda+p0 : (i0+ir+r)*lda+p0+kc]
			for p, v := range src {
				panel[p*gemmMR+r] = v
			}
		}
		for r := mr; r < gemmMR; r++ {
			for p := range kc {
				panel[p*gemmMR+r] = 0
			}
		}
	}
}

// packB packs rows p0..p0+kc, columns j0..j0+nc of op(B) into panels of
// gemmNR columns: dst[jr*kc + p*gemmNR + q] = op(B)[p0+p, j0+jr+q], zero
// padded past nc.
func packB[T real](dst, b []T, ldb int, trans bool, p0, j0, kc, nc int) {
	for jr := 0; jr < nc; jr += gemmNR {
		panel := dst[jr*kc : jr*kc+kc*gemmNR]
		nr := min(gemmNR, nc-jr)
		if !trans {
			// op(B)[p, j] = b[p*ldb + j]
			for p := range kc {
				src := b[(p0+p)*ldb+j0+jr:]
				d := panel[p*gemmNR : p*gemmNR+gemmNR]
				for q := range nr {
					d[q] = src[q]
				}
				for q := nr; q < gemmNR; q++ {
					d[q] = 0
				}
			}
			continue
		}
		// op(B)[p, j] = b[j*ldb + p]
		for q := range nr {
			src := b[(j0+jr+q)*ldb+p0 : (j0+jr+q)*ldb+p0+kc]
			for p, v := range src {
				panel[p*gemmNR+q] = v
			}
		}
		for q := nr; q < gemmNR; q++ {
			for p := range kc {
				panel[p*gemmNR+q] = 0
			}
		}
	}
}

// macroKernel adds alpha * (packed A block) * (packed B block) to the
// mc×nc block of C at c.
func macroKernel[T real](kc, mc, nc int, pa, pb, c []T, ldc int, alpha T) {
	var acc [gemmMR * gemmNR]T
	for jr := 0; jr < nc; jr += gemmNR {
		bp := pb[jr*kc : jr*kc+kc*gemmNR]
		nr := min(gemmNR, nc-jr)
		for ir := 0; ir < mc; ir += gemmMR {
			ap := pa[ir*kc : ir*kc+kc*gemmMR]
			mr := min(gemmMR, mc-ir)
			microKernel(kc, ap, bp, &acc)
			for r := range mr {
				row := c[(ir+r)*ldc+jr : (ir+r)*ldc+jr+nr]
				for q := range row {
					row[q] += alpha * acc[r*gemmNR+q]
				}
			}
		}
	}
}

// microKernel sets acc = A·B for a packed gemmMR×kc panel a and a packed
// kc×gemmNR panel b: acc[r*gemmNR+q] = Σ_p a[p*gemmMR+r] * b[p*gemmNR+q].
// The tile is small and k is unrolled by 4 into two accumulator sets
// because the Go compiler spills larger tiles (scalar SSE, 15 registers).
func microKernel[T real](kc int, a, b []T, acc *[gemmMR * gemmNR]T) {
	var c00, c01, c10, c11 T
	var d00, d01, d10, d11 T
	a = a[:kc*gemmMR]
	b = b[:kc*gemmNR]
	for len(a) >= 8 && len(b) >= 8 {
		ap := (*[8]T)(a)
		bp := (*[8]T)(b)
		c00 += ap[0] * bp[0]
		c01 += ap[0] * bp[1]
		c10 += ap[1] * bp[0]
		c11 += ap[1] * bp[1]
		d00 += ap[2] * bp[2]
		d01 += ap[2] * bp[3]
		d10 += ap[3] * bp[2]
		d11 += ap[3] * bp[3]
		c00 += ap[4] * bp[4]
		c01 += ap[4] * bp[5]
		c10 += ap[5] * bp[4]
		c11 += ap[5] * bp[5]
		d00 += ap[6] * bp[6]
		d01 += ap[6] * bp[7]
		d10 += ap[7] * bp[6]
		d11 += ap[7] * bp[7]
		a = a[8:]
		b = b[8:]
	}
	for len(a) >= 2 && len(b) >= 2 {
		c00 += a[0] * b[0]
		c01 += a[0] * b[1]
		c10 += a[1] * b[0]
		c11 += a[1] * b[1]
		a = a[2:]
		b = b[2:]
	}
	*acc = [gemmMR * gemmNR]T{c00 + d00, c01 + d01, c10 + d10, c11 + d11}
}
