package kernels

import (
	"runtime"
	"sync/atomic"
)

// An sgemmImpl is one float32 GEMM implementation: the generic engine
// (kernel nil) or the blocked engine below driving an assembly
// micro-kernel that computes mr×nr tiles of C.
type sgemmImpl struct {
	name      string
	available bool // the CPU supports it
	mr, nr    int  // micro-tile
	kc        int  // depth of one packed B block
	kernel    func(k int, a *float32, rsa, csa int, b *float32, c *float32, ldc int, alpha, beta float32)
	// kernelP, if not nil, is the same micro-kernel reading A from a
	// packed panel (a[p*mr + r]); it computes the same roundings as
	// kernel. Gemm's engine uses it on wide chunks (see chunkPacked).
	kernelP func(k int, a *float32, b *float32, c *float32, ldc int, alpha, beta float32)
	// kernelS, if not nil, is kernel reading B in place (row p of the
	// panel at b[p*ldb:]), with the same roundings; GemmStreamB uses it.
	kernelS sgemmKernelS
	// kernelSRows holds kernelS on shorter tiles, by number of rows, for
	// the last rows of a product.
	kernelSRows map[int]sgemmKernelS
	scratch     freePool // of *sgemmScratch
}

// An sgemmKernelS computes a tile of C from op(A) read with strides and
// B read in place, row p of the panel at b[p*ldb:].
type sgemmKernelS func(k int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

// sgemmImpls lists the float32 implementations built into this binary,
// from least to most capable; sgemmUse is the one Gemm runs. Tests switch
// sgemmUse to run every available implementation.
var (
	sgemmImpls = []*sgemmImpl{{name: "generic", available: true}}
	sgemmUse   = sgemmImpls[0]
)

// registerSgemm adds an implementation and selects it when the CPU
// supports it; architecture files register in order of capability.
func registerSgemm(s *sgemmImpl) {
	s.scratch.New = func() any {
		return &sgemmScratch{
			pb:   make([]float32, s.kc*max(sgemmNB, sgemmNC)),
			pa:   make([]float32, roundUp(sgemmMC, s.mr)*s.kc),
			tile: make([]float32, s.mr*s.nr),
		}
	}
	sgemmImpls = append(sgemmImpls, s)
	if s.available {
		sgemmUse = s
	}
}

// sgemmNB is the widest column block of C (and of the packed B block) one
// chunk covers when A is read in place (implementations without kernelP,
// and GemmStreamB): kc×sgemmNB floats of B (256 KiB at kc = 256) stay in
// L2 while the chunk's rows of A stream past.
const sgemmNB = 256

// Blocking of the packed engine (implementations with kernelP), in the
// GotoBLAS/BLIS order: a chunk of C at most sgemmNC columns wide packs,
// for each kc-deep slice of k, its kc×nc block of B (kc = 256: 1 MiB at
// nc = 1024, in L2), then sgemmMC rows of A at a time into mr-row panels
// (96×256 floats, 96 KiB, in L2) and sweeps the block column panel by
// column panel: each kc×nr panel of B (32 KiB at 12×32) stays in L1 while
// the mr×kc panels of A (12 KiB) stream past it, prefetched by the
// micro-kernel. Packing A costs a pass over it per chunk, which pays only
// when the chunk is wide: narrower chunks (below sgemmPackMinN columns)
// read A in place with kernel, rows outer and B panels streaming from L2.
// Both orders form the same sums, so the choice does not change results.
// Only the one-goroutine path makes such wide chunks (see gemm).
const (
	sgemmNC = 1024
	sgemmMC = 96 // multiple of every mr (6, 12)
)

// A chunk packs A when it is at least sgemmPackMinN columns wide and its
// kc-deep slice of A has more than sgemmPackMinA floats (1 MiB, half of
// L2): smaller slices stay in L2 for the rows-outer order, which measured
// as fast or faster there (512×512×512, 1024×256×1024). Variables so
// that tests and benchmarks can change them.
var (
	sgemmPackMinN = 512
	sgemmPackMinA = 1 << 18
)

// sgemmScratch holds one participant's packed B block, packed A panels
// (or a zero-padded A panel for the last rows) and a tile for the edges
// of C.
type sgemmScratch struct {
	pb   []float32 // kc × max(sgemmNB, sgemmNC)
	pa   []float32 // sgemmMC × kc
	tile []float32 // mr × nr
}

func (s *sgemmImpl) getScratch() *sgemmScratch {
	return s.scratch.Get().(*sgemmScratch)
}

// sgemmJob is one float32 product on a micro-kernel, cut into chunks of
// at most mb rows × nb columns of C. Chunk edges fall on multiples of mr
// and nr, so which tiles are partial, and hence every rounding, does not
// depend on the number of chunks.
type sgemmJob struct {
	s              *sgemmImpl
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
	mb, nb         int
	mt, nt         int
	ep             gemmEpilogue[float32]
	sb             *sharedB // nil: every chunk packs its own B
}

// A sharedB holds a parallel product's packed B, every kc slice of every
// column chunk, so that the row chunks of one column share one packing.
// The first chunk to need a block packs it (ready 0 → 1 → 2); a chunk
// that finds it being packed packs its own copy instead of waiting, so
// a participant slowed by other work holds up no one.
type sharedB struct {
	pb    []float32 // slice p0 of column chunk j0 at p0*nPad + j0*kc
	ready []atomic.Int32
	nPad  int
}

// sgemmShareMax is the most floats of packed B a parallel product
// shares (16 MiB); larger products pack per chunk.
const sgemmShareMax = 1 << 22

var sharedBs = freePool{New: func() any { return new(sharedB) }}

// sgemmShareB selects the shared packed B for parallel products; a
// variable so that benchmarks can compare.
var sgemmShareB = true

// setup sizes b for g and marks every block unpacked.
func (b *sharedB) setup(g *sgemmJob) {
	b.nPad = roundUp(g.n, g.s.nr)
	if need := g.k * b.nPad; cap(b.pb) < need {
		b.pb = make([]float32, need)
	}
	nf := ceilDiv(g.k, g.s.kc) * g.nt
	if cap(b.ready) < nf {
		b.ready = make([]atomic.Int32, nf)
	}
	b.ready = b.ready[:nf]
	for i := range b.ready {
		b.ready[i].Store(0)
	}
}

// packedB returns the packed kc×nc block of B at slice p0 and column j0,
// from the shared copy when possible, else packed into sc.pb.
func (g *sgemmJob) packedB(sc *sgemmScratch, p0, j0, kc, nc int) []float32 {
	nr := g.s.nr
	if sb := g.sb; sb != nil {
		f := &sb.ready[(p0/g.s.kc)*g.nt+j0/g.nb]
		off := p0*sb.nPad + j0*kc
		shared := sb.pb[off : off+kc*roundUp(nc, nr)]
		switch st := f.Load(); {
		case st == 2:
			return shared
		case st == 0 && f.CompareAndSwap(0, 1):
			packBPanels(shared, g.b, g.ldb, g.transB, p0, j0, kc, nc, nr)
			f.Store(2)
			return shared
		}
	}
	packBPanels(sc.pb, g.b, g.ldb, g.transB, p0, j0, kc, nc, nr)
	return sc.pb
}

var sgemmJobs = freePool{New: func() any { return new(sgemmJob) }}

// gemm runs C = alpha*op(A)*op(B) + beta*C on s, with the epilogue ep on
// each part of C once final; m, n, k > 0, alpha ≠ 0.
func (s *sgemmImpl) gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, par bool, ep gemmEpilogue[float32]) {
	g := sgemmJob{
		s: s, transA: transA, transB: transB, m: m, n: n, k: k,
		alpha: alpha, beta: beta, a: a, b: b, c: c, lda: lda, ldb: ldb, ldc: ldc,
		ep: ep,
	}
	procs := runtime.GOMAXPROCS(0)
	if !par || procs == 1 || 2*m*n*k < gemmSerialFlops {
		g.mb, g.nb = m, s.colBlock()
		g.mt, g.nt = 1, ceilDiv(n, g.nb)
		sc := s.getScratch()
		for i := range g.nt {
			g.chunk(i, sc)
		}
		s.scratch.Put(sc)
		return
	}
	// Split columns first: every chunk packs its own B block, so cutting
	// rows repeats packing while cutting columns does not. Chunks are at
	// most sgemmNB wide and read A in place: packing A per chunk (or
	// cutting rows, each chunk then packing its own B) measured no faster
	// on two cores, within this VM's noise, at the shapes of
	// performance.md (BenchmarkSgemmPacked). Rows are then cut until
	// there are about eight chunks per core, so that a core slowed by
	// other work leaves little for the others to wait on (two cores:
	// 3-7 % faster medians than two chunks per core, alternating runs).
	g.nb = sgemmNB
	for ceilDiv(n, g.nb) < 2*procs && g.nb > 4*s.nr {
		g.nb = roundUp(g.nb/2, s.nr)
	}
	g.nt = ceilDiv(n, g.nb)
	g.mt = max(1, ceilDiv(8*procs, g.nt))
	g.mb = roundUp(ceilDiv(m, g.mt), s.mr)
	g.mt = ceilDiv(m, g.mb)
	if sgemmShareB && g.mt > 1 && k*roundUp(n, s.nr) <= sgemmShareMax {
		g.sb = sharedBs.Get().(*sharedB)
		g.sb.setup(&g)
	}
	pg := sgemmJobs.Get().(*sgemmJob)
	*pg = g
	runParallel(pg, g.mt*g.nt)
	*pg = sgemmJob{}
	sgemmJobs.Put(pg)
	if g.sb != nil {
		sharedBs.Put(g.sb)
	}
}

// colBlock is the widest column block of one chunk.
func (s *sgemmImpl) colBlock() int {
	if s.kernelP == nil {
		return sgemmNB
	}
	return sgemmNC
}

func roundUp(a, b int) int { return ceilDiv(a, b) * b }

func (g *sgemmJob) runChunks(j *parJob) {
	sc := g.s.getScratch()
	for i, ok := j.claim(); ok; i, ok = j.claim() {
		g.chunk(i, sc)
	}
	g.s.scratch.Put(sc)
}

// chunk computes chunk idx of C, numbered row-major over the chunk grid.
func (g *sgemmJob) chunk(idx int, sc *sgemmScratch) {
	s := g.s
	mr, nr := s.mr, s.nr
	i0 := (idx / g.nt) * g.mb
	j0 := (idx % g.nt) * g.nb
	mc := min(g.mb, g.m-i0)
	nc := min(g.nb, g.n-j0)
	if s.kernelP != nil && nc >= sgemmPackMinN && mc*min(s.kc, g.k) > sgemmPackMinA {
		g.chunkPacked(i0, j0, mc, nc, sc)
		return
	}
	for p0 := 0; p0 < g.k; p0 += s.kc {
		kc := min(s.kc, g.k-p0)
		beta := g.beta
		if p0 > 0 {
			beta = 1
		}
		pb := g.packedB(sc, p0, j0, kc, nc)
		for ir := 0; ir < mc; ir += mr {
			mcur := min(mr, mc-ir)
			i := i0 + ir
			// A is read in place unless the panel is short.
			ap, rs, cs := inPlaceA(g.a, g.lda, g.transA, i, p0)
			if mcur < mr {
				packAPanel(sc.pa, g.a, g.lda, g.transA, i, p0, mcur, kc, mr)
				ap, rs, cs = &sc.pa[0], 1, mr
			}
			for jr := 0; jr < nc; jr += nr {
				ncur := min(nr, nc-jr)
				bp := &pb[jr*kc]
				if mcur == mr && ncur == nr {
					s.kernel(kc, ap, rs, cs, bp, &g.c[i*g.ldc+j0+jr], g.ldc, g.alpha, beta)
					continue
				}
				s.kernel(kc, ap, rs, cs, bp, &sc.tile[0], nr, 1, 0)
				storeEdge(g.c, g.ldc, i, j0+jr, mcur, ncur, sc.tile, nr, g.alpha, beta)
			}
			if p0+kc == g.k {
				// These rows of the chunk are final.
				g.ep.apply(g.c, g.ldc, i, j0, mcur, nc)
			}
		}
	}
}

// inPlaceA returns the address of op(A)[i, p0] and op(A)'s row and k
// strides, for a micro-kernel reading A in place.
func inPlaceA(a []float32, lda int, trans bool, i, p0 int) (ap *float32, rs, cs int) {
	if trans {
		return &a[p0*lda+i], 1, lda
	}
	return &a[i*lda+p0], lda, 1
}

// packBPanels packs rows p0..p0+kc, columns j0..j0+nc of op(B) into panels
// of nr columns: dst[jr*kc + p*nr + q] = op(B)[p0+p, j0+jr+q], zero padded
// past nc.
func packBPanels(dst, b []float32, ldb int, trans bool, p0, j0, kc, nc, nr int) {
	for jr := 0; jr < nc; jr += nr {
		panel := dst[jr*kc : jr*kc+kc*nr]
		ncur := min(nr, nc-jr)
		if !trans {
			// op(B)[p, j] = b[p*ldb + j]
			switch {
			case ncur == 32 && nr == 32:
				if packB32Asm != nil {
					// Bounds: rows p0..p0+kc-1, columns j0+jr..+31 of B.
					_ = b[(p0+kc-1)*ldb+j0+jr+31]
					packB32Asm(&panel[0], &b[p0*ldb+j0+jr], ldb, kc)
					continue
				}
				for p := range kc {
					copy32(panel[p*32:], b[(p0+p)*ldb+j0+jr:])
				}
				continue
			case ncur == 16 && nr == 16:
				for p := range kc {
					*(*[16]float32)(panel[p*16:]) = *(*[16]float32)(b[(p0+p)*ldb+j0+jr:])
				}
				continue
			}
			for p := range kc {
				src := b[(p0+p)*ldb+j0+jr:]
				d := panel[p*nr : p*nr+nr]
				copy(d[:ncur], src[:ncur])
				clear(d[ncur:])
			}
			continue
		}
		// op(B)[p, j] = b[j*ldb + p], four columns at a time so that
		// the stores into the panel are not all strided.
		if ncur == 32 && nr == 32 && packBT32Asm != nil && 16*ldb < 1<<31 {
			// Bounds: rows j0+jr..+31, columns p0..p0+kc-1 of b.
			_ = b[(j0+jr+31)*ldb+p0+kc-1]
			packBT32Asm(&panel[0], &b[(j0+jr)*ldb+p0], ldb, kc)
			continue
		}
		q := 0
		for ; q+4 <= ncur; q += 4 {
			off := (j0+jr+q)*ldb + p0
			s0 := b[off : off+kc]
			s1 := b[off+ldb : off+ldb+kc]
			s2 := b[off+2*ldb : off+2*ldb+kc]
			s3 := b[off+3*ldb : off+3*ldb+kc]
			for p := range s0 {
				d := panel[p*nr+q : p*nr+q+4]
				d[0], d[1], d[2], d[3] = s0[p], s1[p], s2[p], s3[p]
			}
		}
		for ; q < ncur; q++ {
			src := b[(j0+jr+q)*ldb+p0 : (j0+jr+q)*ldb+p0+kc]
			for p, v := range src {
				panel[p*nr+q] = v
			}
		}
		if ncur < nr {
			for p := range kc {
				clear(panel[p*nr+ncur : p*nr+nr])
			}
		}
	}
}

// packB32Asm and packBT32Asm, if not nil, are assembly packers of one
// 32-column panel of B, not transposed and transposed (see
// sgemmPackB32AVX512 and sgemmPackBT32AVX512).
var packB32Asm, packBT32Asm func(dst *float32, b *float32, ldb int, kc int)

// packAPanel packs rows i0..i0+mcur (mcur ≤ mr), columns p0..p0+kc of
// op(A) into dst[p*mr + r], zero padded to mr rows.
func packAPanel(dst, a []float32, lda int, trans bool, i0, p0, mcur, kc, mr int) {
	dst = dst[:kc*mr]
	clear(dst)
	for r := range mcur {
		for p := range kc {
			if trans {
				dst[p*mr+r] = a[(p0+p)*lda+i0+r]
			} else {
				dst[p*mr+r] = a[(i0+r)*lda+p0+p]
			}
		}
	}
}

// chunkPacked computes the mc×nc chunk of C at (i0, j0) with A packed as
// well as B (see sgemmNC).
func (g *sgemmJob) chunkPacked(i0, j0, mc, nc int, sc *sgemmScratch) {
	s := g.s
	mr, nr := s.mr, s.nr
	for p0 := 0; p0 < g.k; p0 += s.kc {
		kc := min(s.kc, g.k-p0)
		beta := g.beta
		if p0 > 0 {
			beta = 1
		}
		packBPanels(sc.pb, g.b, g.ldb, g.transB, p0, j0, kc, nc, nr)
		for ic := 0; ic < mc; ic += sgemmMC {
			mcur := min(sgemmMC, mc-ic)
			packAPanels(sc.pa, g.a, g.lda, g.transA, i0+ic, p0, mcur, kc, mr)
			for jr := 0; jr < nc; jr += nr {
				for ir := 0; ir < mcur; ir += mr {
					g.tileP(sc, i0+ic+ir, j0+jr, min(mr, mcur-ir), min(nr, nc-jr), &sc.pa[ir*kc], &sc.pb[jr*kc], kc, beta)
				}
			}
			if p0+kc == g.k {
				// This block of rows (in L2) is final.
				g.ep.apply(g.c, g.ldc, i0+ic, j0, mcur, nc)
			}
		}
	}
}

// tileP computes the mcur×ncur tile of C at (i, j) from packed panels.
func (g *sgemmJob) tileP(sc *sgemmScratch, i, j, mcur, ncur int, ap, bp *float32, kc int, beta float32) {
	s := g.s
	mr, nr := s.mr, s.nr
	if mcur == mr && ncur == nr {
		s.kernelP(kc, ap, bp, &g.c[i*g.ldc+j], g.ldc, g.alpha, beta)
		return
	}
	s.kernelP(kc, ap, bp, &sc.tile[0], nr, 1, 0)
	storeEdge(g.c, g.ldc, i, j, mcur, ncur, sc.tile, nr, g.alpha, beta)
}

// storeEdge sets the mcur×ncur part of C at (i, j) to alpha·tile +
// beta·C (beta 0: C is not read), tile holding rows nr apart: the
// micro-kernel's result for an edge of C, computed with alpha 1, beta 0.
func storeEdge(c []float32, ldc, i, j, mcur, ncur int, tile []float32, nr int, alpha, beta float32) {
	for r := range mcur {
		t := tile[r*nr : r*nr+ncur]
		row := c[(i+r)*ldc+j : (i+r)*ldc+j+ncur]
		if beta == 0 {
			for q, v := range t {
				row[q] = alpha * v
			}
			continue
		}
		for q, v := range t {
			row[q] = alpha*v + beta*row[q]
		}
	}
}

// packAPanels packs rows i0..i0+rows, columns p0..p0+kc of op(A) into
// panels of mr rows: dst[ir*kc + p*mr + r] = op(A)[i0+ir+r, p0+p], the
// last panel zero padded to mr rows.
func packAPanels(dst, a []float32, lda int, trans bool, i0, p0, rows, kc, mr int) {
	for ir := 0; ir < rows; ir += mr {
		mcur := min(mr, rows-ir)
		d := dst[ir*kc : ir*kc+kc*mr]
		i := i0 + ir
		switch {
		case mcur == 12 && mr == 12 && !trans:
			packA12(d, a, lda, i, p0, kc)
		case mcur == 12 && mr == 12 && trans:
			// op(A)[i, p] = a[p*lda + i]: 12 consecutive floats per p.
			for p := range kc {
				*(*[12]float32)(d[p*12:]) = *(*[12]float32)(a[(p0+p)*lda+i:])
			}
		case mcur == 6 && mr == 6 && trans:
			for p := range kc {
				*(*[6]float32)(d[p*6:]) = *(*[6]float32)(a[(p0+p)*lda+i:])
			}
		default:
			packAPanel(d, a, lda, trans, i, p0, mcur, kc, mr)
		}
	}
}

// packA12Asm, if not nil, is an assembly packA12 (see
// sgemmPackA12AVX512).
var packA12Asm func(dst *float32, a *float32, lda int, kc int)

// packA12 packs 12 rows of A (not transposed) into one panel.
func packA12(d, a []float32, lda, i, p0, kc int) {
	if packA12Asm != nil && 12*lda < 1<<31 {
		d = d[:kc*12]
		// Bounds: rows i..i+11, columns p0..p0+kc-1 of A.
		_ = a[(i+11)*lda+p0+kc-1]
		packA12Asm(&d[0], &a[i*lda+p0], lda, kc)
		return
	}
	row := func(r int) []float32 {
		off := (i+r)*lda + p0
		return a[off : off+kc : off+kc]
	}
	r0, r1, r2, r3, r4, r5 := row(0), row(1), row(2), row(3), row(4), row(5)
	r6, r7, r8, r9, r10, r11 := row(6), row(7), row(8), row(9), row(10), row(11)
	d = d[:kc*12]
	for p := range r0 {
		q := (*[12]float32)(d[p*12:])
		q[0], q[1], q[2], q[3] = r0[p], r1[p], r2[p], r3[p]
		q[4], q[5], q[6], q[7] = r4[p], r5[p], r6[p], r7[p]
		q[8], q[9], q[10], q[11] = r8[p], r9[p], r10[p], r11[p]
	}
}
