package kernels

import (
	"math"
	"runtime"
	"unsafe"
)

// GemmBF16 is Gemm for float32 matrices in bf16 precision: every product
// is formed from operands rounded to bfloat16 (ToBF16, ties to even) and
// the products are summed in float32; alpha, beta and C stay float32. It
// is what torch.autocast("cpu", dtype=torch.bfloat16) does to a matmul.
//
// It runs on AMX-BF16 tiles (TDPBF16PS) or AVX512_BF16 (VDPBF16PS) when
// the CPU has them, converting operands to bfloat16 while it packs them;
// those units read bfloat16 denormals as zero. Elsewhere (and under the
// purego build tag) it rounds copies of the operands and runs the float32
// kernels on them, which gives the same products exactly. BF16Impl names
// the implementation in use. Results do not depend on the number of cores.
func GemmBF16(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemmOf("GemmBF16", transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	gemmBF16(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, true, gemmEpilogue[float32]{})
}

// GemmActBF16 is GemmAct in bf16 precision: C as GemmBF16 computes it,
// and out = act(C) in float32.
func GemmActBF16(act Act, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, out []float32, ldo int) {
	checkGemmOf("GemmActBF16", transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	checkMat("GemmActBF16", "out", m, n, len(out), ldo)
	checkAct(act)
	gemmBF16(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, true, gemmEpilogue[float32]{act: act, out: out, ldo: ldo})
}

// BF16Impl names the implementation GemmBF16 runs on: "amx",
// "avx512bf16", or "convert" (rounded operands on the float32 kernels).
func BF16Impl() string { return bgemmUse.name }

// BF16Native reports whether the CPU multiplies bfloat16 natively (AMX-BF16
// or AVX512_BF16); without it bf16 precision gives the same numbers at
// float32 speed.
func BF16Native() bool { return bgemmUse.kernel != nil }

// A bgemmImpl is one bf16 GEMM implementation: the convert fallback
// (kernel nil) or the packed engine below driving a micro-kernel on
// mr×nr tiles of C.
//
// Packed B (every implementation): panel jr holds columns jr..jr+nr of
// op(B) as pairs along k, dst[jr*kTot + (p/2)*2*nr + 2*j + p%2] (kTot =
// k rounded up to kb), zero padded past n and k. Packed A is the
// implementation's own (packA), mr rows per panel.
type bgemmImpl struct {
	name      string
	available bool
	mr, nr    int
	kb        int // k of every kernel call is a multiple of kb
	// packA packs rows i0..i0+rows (rows ≤ mc), columns p0..p0+kc of op(A)
	// into panels of mr rows, each kp = roundUp(kc, kb) deep and mr*kp
	// long, zero padded.
	packA func(dst []uint16, a []float32, lda int, trans bool, i0, p0, rows, kc, kp, mr int)
	// kernel computes the tile C = alpha·A·B + beta·C (beta 0: C not
	// read) from an A panel and a B panel kp deep; t is a 32×32 float32
	// scratch tile the kernel may use.
	kernel func(kp int, a, b *uint16, c *float32, ldc int, alpha, beta float32, t *float32)
	// kernelRow, if not nil, is kernel over panels full tiles side by side
	// (B panels bstride apart, C nr columns apart) with alpha 1 and beta 0
	// or 1, the same sums stored straight to C.
	kernelRow func(kp int, a, b *uint16, panels, bstride int, c *float32, ldc int, beta float32)
	scratch   freePool // of *bgemmScratch
}

// Blocking of the bf16 engine: a chunk of C (at most bgemmNB columns)
// packs, for each bgemmKC-deep slice of k, bgemmMC rows of A at a time
// and sweeps the shared packed B panel by panel: a 512×32 panel of B
// (32 KiB) stays in L1/L2 while the chunk's A panels stream past.
const (
	bgemmKC = 512 // multiple of every kb
	bgemmMC = 96  // rounded up to each mr by mcOf
	bgemmNB = 512
)

// mcOf is the row block of one packing of A: bgemmMC rounded to mr.
func (s *bgemmImpl) mcOf() int { return roundUp(bgemmMC, s.mr) }

type bgemmScratch struct {
	pa   []uint16  // mc × bgemmKC
	tile []float32 // mr × nr edge tile
	t    []float32 // 32 × 32 kernel scratch (64-byte aligned)
}

func (s *bgemmImpl) getScratch() *bgemmScratch { return s.scratch.Get().(*bgemmScratch) }

var (
	bgemmImpls = []*bgemmImpl{{name: "convert", available: true}}
	bgemmUse   = bgemmImpls[0]
)

// registerBgemm adds an implementation and selects it when available;
// architecture files register in order of capability.
func registerBgemm(s *bgemmImpl) {
	s.scratch.New = func() any {
		return &bgemmScratch{
			pa:   make([]uint16, s.mcOf()*bgemmKC),
			tile: make([]float32, s.mr*s.nr),
			t:    aligned64(32 * 32),
		}
	}
	bgemmImpls = append(bgemmImpls, s)
	if s.available {
		bgemmUse = s
	}
}

// aligned64 returns n float32s starting on a 64-byte boundary.
func aligned64(n int) []float32 {
	buf := make([]float32, n+16)
	off := int(uintptr(unsafe.Pointer(&buf[0]))%64) / 4
	if off != 0 {
		off = 16 - off
	}
	return buf[off : off+n : off+n]
}

// gemmBF16 runs GemmBF16 (with the epilogue ep); par false keeps it on
// the calling goroutine.
func gemmBF16(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, par bool, ep gemmEpilogue[float32]) {
	switch s := bgemmUse; {
	case m == 0 || n == 0 || k == 0 || alpha == 0:
		// Nothing to multiply: the float32 engine applies beta and the
		// epilogue.
		gemmEp(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, par, ep)
	case s.kernel == nil:
		gemmConvert(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, par, ep)
	default:
		s.gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, par, ep)
	}
}

// convertBuf holds the rounded copies of one convert product.
type convertBuf struct{ a, b []float32 }

var convertBufs = freePool{New: func() any { return new(convertBuf) }}

// gemmConvert is the fallback: op(A) and op(B) are copied rounded to
// bfloat16 (in their own layout, packed to their widths) and multiplied
// by the float32 engine. Products of bfloat16 values are exact in float32,
// so this computes the bf16 semantics with float32 kernels.
func gemmConvert(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, par bool, ep gemmEpilogue[float32]) {
	cb := convertBufs.Get().(*convertBuf)
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	cb.a = roundCopy(cb.a, a, lda, ar, ac)
	cb.b = roundCopy(cb.b, b, ldb, br, bc)
	gemmEp(transA, transB, m, n, k, alpha, cb.a, ac, cb.b, bc, beta, c, ldc, par, ep)
	convertBufs.Put(cb)
}

// roundCopy returns buf (grown as needed) holding the rows×cols matrix
// x (leading dimension ld) rounded to bfloat16, rows cols apart.
func roundCopy(buf, x []float32, ld, rows, cols int) []float32 {
	if cap(buf) < rows*cols {
		buf = make([]float32, rows*cols)
	}
	buf = buf[:rows*cols]
	for r := range rows {
		RoundBF16s(buf[r*cols:(r+1)*cols], x[r*ld:r*ld+cols])
	}
	return buf
}

// bgemmJob is one bf16 product on a micro-kernel: B is packed once, in
// parallel by panels, then chunks of at most mb rows × nb columns of C
// are computed in parallel. Chunk edges fall on multiples of mr and nr.
type bgemmJob struct {
	s              *bgemmImpl
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
	mb, nb, mt, nt int
	kTot           int
	pb             []uint16
	ep             gemmEpilogue[float32]
	packing        bool // the parallel phase packs B (else computes chunks)
	panelsPer      int  // B panels per packing chunk
}

var bgemmJobs = freePool{New: func() any { return new(bgemmJob) }}

// packedBs holds packed B buffers for reuse.
var packedBs = freePool{New: func() any { return new([]uint16) }}

func (s *bgemmImpl) gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, par bool, ep gemmEpilogue[float32]) {
	g := bgemmJob{
		s: s, transA: transA, transB: transB, m: m, n: n, k: k,
		alpha: alpha, beta: beta, a: a, b: b, c: c, lda: lda, ldb: ldb, ldc: ldc, ep: ep,
	}
	g.kTot = roundUp(k, s.kb)
	nPanels := ceilDiv(n, s.nr)
	pbp := packedBs.Get().(*[]uint16)
	if need := g.kTot * nPanels * s.nr; cap(*pbp) < need {
		*pbp = make([]uint16, need)
	}
	g.pb = (*pbp)[:g.kTot*nPanels*s.nr]
	procs := runtime.GOMAXPROCS(0)
	if !par || procs == 1 || 2*m*n*k < gemmSerialFlops {
		g.packPanels(0, nPanels)
		g.mb, g.nb = m, bgemmNB
		g.mt, g.nt = 1, ceilDiv(n, g.nb)
		sc := s.getScratch()
		for i := range g.nt {
			g.chunk(i, sc)
		}
		s.scratch.Put(sc)
		packedBs.Put(pbp)
		return
	}
	pg := bgemmJobs.Get().(*bgemmJob)
	// Pack B in parallel, a few panels per chunk.
	g.packing = true
	g.panelsPer = max(1, ceilDiv(nPanels, 4*procs))
	*pg = g
	runParallel(pg, ceilDiv(nPanels, g.panelsPer))
	// Then the chunks of C, about eight per core (see sgemmImpl.gemm).
	g.packing = false
	g.nb = bgemmNB
	for ceilDiv(n, g.nb) < 2*procs && g.nb > 4*s.nr {
		g.nb = roundUp(g.nb/2, s.nr)
	}
	g.nt = ceilDiv(n, g.nb)
	g.mt = max(1, ceilDiv(8*procs, g.nt))
	g.mb = roundUp(ceilDiv(m, g.mt), s.mr)
	g.mt = ceilDiv(m, g.mb)
	*pg = g
	runParallel(pg, g.mt*g.nt)
	*pg = bgemmJob{}
	bgemmJobs.Put(pg)
	packedBs.Put(pbp)
}

func (g *bgemmJob) runChunks(j *parJob) {
	if g.packing {
		nPanels := ceilDiv(g.n, g.s.nr)
		for i, ok := j.claim(); ok; i, ok = j.claim() {
			g.packPanels(i*g.panelsPer, min(nPanels, (i+1)*g.panelsPer))
		}
		return
	}
	sc := g.s.getScratch()
	for i, ok := j.claim(); ok; i, ok = j.claim() {
		g.chunk(i, sc)
	}
	g.s.scratch.Put(sc)
}

// packPanels packs panels q0..q1 of op(B), every slice of k.
func (g *bgemmJob) packPanels(q0, q1 int) {
	nr := g.s.nr
	for q := q0; q < q1; q++ {
		j0 := q * nr
		packBPairs(g.pb[q*g.kTot*nr:(q+1)*g.kTot*nr], g.b, g.ldb, g.transB, j0, min(nr, g.n-j0), g.k, nr)
	}
}

// chunk computes chunk idx of C, numbered row-major over the chunk grid.
func (g *bgemmJob) chunk(idx int, sc *bgemmScratch) {
	s := g.s
	mr, nr := s.mr, s.nr
	mcBlk := s.mcOf()
	i0 := (idx / g.nt) * g.mb
	j0 := (idx % g.nt) * g.nb
	mc := min(g.mb, g.m-i0)
	nc := min(g.nb, g.n-j0)
	for p0 := 0; p0 < g.k; p0 += bgemmKC {
		kc := min(bgemmKC, g.k-p0)
		kp := roundUp(kc, s.kb)
		beta := g.beta
		if p0 > 0 {
			beta = 1
		}
		for ic := 0; ic < mc; ic += mcBlk {
			rows := min(mcBlk, mc-ic)
			s.packA(sc.pa, g.a, g.lda, g.transA, i0+ic, p0, rows, kc, kp, mr)
			if s.kernelRow != nil && g.alpha == 1 && (beta == 0 || beta == 1) {
				g.rowsOfTiles(sc, i0+ic, j0, rows, nc, p0, kp, beta)
			} else {
				for jr := 0; jr < nc; jr += nr {
					ncur := min(nr, nc-jr)
					bp := &g.pb[(j0+jr)*g.kTot+p0*nr]
					for ir := 0; ir < rows; ir += mr {
						mcur := min(mr, rows-ir)
						ap := &sc.pa[ir*kp]
						i, j := i0+ic+ir, j0+jr
						if mcur == mr && ncur == nr {
							s.kernel(kp, ap, bp, &g.c[i*g.ldc+j], g.ldc, g.alpha, beta, &sc.t[0])
							continue
						}
						s.kernel(kp, ap, bp, &sc.tile[0], nr, 1, 0, &sc.t[0])
						storeEdge(g.c, g.ldc, i, j, mcur, ncur, sc.tile, nr, g.alpha, beta)
					}
				}
			}
			if p0+kc == g.k {
				g.ep.apply(g.c, g.ldc, i0+ic, j0, rows, nc)
			}
		}
	}
}

// bf16NarrowAsm and bf16PairsAsm, if not nil, are assembly narrowBF16
// and pairBF16 on n > 0 elements.
var (
	bf16NarrowAsm func(dst *uint16, src *float32, n int)
	bf16PairsAsm  func(dst *uint32, x0, x1 *float32, n int)
)

// narrowBF16 sets dst[i] = ToBF16(src[i]).
func narrowBF16(dst []uint16, src []float32) {
	if len(src) == 0 {
		return
	}
	_ = dst[len(src)-1]
	if bf16NarrowAsm != nil {
		bf16NarrowAsm(&dst[0], &src[0], len(src))
		return
	}
	for i, v := range src {
		dst[i] = bf16Bits(math.Float32bits(v))
	}
}

// pairBF16 sets dst[2i] = ToBF16(x0[i]) and dst[2i+1] = ToBF16(x1[i]), or
// 0 when x1 is nil.
func pairBF16(dst []uint16, x0, x1 []float32) {
	if len(x0) == 0 {
		return
	}
	_ = dst[2*len(x0)-1]
	if x1 == nil {
		for i, v := range x0 {
			dst[2*i], dst[2*i+1] = bf16Bits(math.Float32bits(v)), 0
		}
		return
	}
	_ = x1[len(x0)-1]
	if bf16PairsAsm != nil {
		bf16PairsAsm((*uint32)(unsafe.Pointer(&dst[0])), &x0[0], &x1[0], len(x0))
		return
	}
	for i, v := range x0 {
		dst[2*i], dst[2*i+1] = bf16Bits(math.Float32bits(v)), bf16Bits(math.Float32bits(x1[i]))
	}
}

// transposePairs sets dst[q*ldd + r] = src[r*lds + q] for r < rows, q <
// cols, on pairs of bfloat16 (32-bit words): it turns rows of pairs into
// columns.
func transposePairs(dst []uint16, ldd int, src []uint16, lds int, rows, cols int) {
	if rows == 0 || cols == 0 {
		return
	}
	d := unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(dst))), len(dst)/2)
	s := unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(src))), len(src)/2)
	// Bounds: the last element read and written.
	_ = s[(rows-1)*lds+cols-1]
	_ = d[(cols-1)*ldd+rows-1]
	if rows == 32 && packBT32Asm != nil && 16*lds < 1<<31 && ldd == 32 {
		packBT32Asm((*float32)(unsafe.Pointer(&d[0])), (*float32)(unsafe.Pointer(&s[0])), lds, cols)
		return
	}
	if bf16TransposeAsm != nil && 64*lds < 1<<31 {
		bf16TransposeAsm(&d[0], ldd, &s[0], lds, rows, cols)
		return
	}
	for r := range rows {
		for q, v := range s[r*lds : r*lds+cols] {
			d[q*ldd+r] = v
		}
	}
}

// bf16TransposeAsm, if not nil, is an assembly transposePairs on words.
var bf16TransposeAsm func(dst *uint32, ldd int, src *uint32, lds int, rows, cols int)

// pairScratch holds rows converted to bfloat16 before a transpose.
var pairScratch = freePool{New: func() any { return new([]uint16) }}

func getPairScratch(n int) *[]uint16 {
	b := pairScratch.Get().(*[]uint16)
	if cap(*b) < n {
		*b = make([]uint16, n)
	}
	*b = (*b)[:n]
	return b
}

// rowsOfTiles computes rows i0..i0+rows, columns j0..j0+nc of C for one
// slice of k (A packed in sc.pa) with kernelRow over each panel row's full
// tiles, and kernel with an edge store for the partial ones.
func (g *bgemmJob) rowsOfTiles(sc *bgemmScratch, i0, j0, rows, nc, p0, kp int, beta float32) {
	s := g.s
	mr, nr := s.mr, s.nr
	full := nc / nr
	for ir := 0; ir < rows; ir += mr {
		mcur := min(mr, rows-ir)
		ap := &sc.pa[ir*kp]
		i := i0 + ir
		jr := 0
		if mcur == mr && full > 0 {
			s.kernelRow(kp, ap, &g.pb[j0*g.kTot+p0*nr], full, g.kTot*nr, &g.c[i*g.ldc+j0], g.ldc, beta)
			jr = full * nr
		}
		for ; jr < nc; jr += nr {
			ncur := min(nr, nc-jr)
			bp := &g.pb[(j0+jr)*g.kTot+p0*nr]
			s.kernel(kp, ap, bp, &sc.tile[0], nr, 1, 0, &sc.t[0])
			storeEdge(g.c, g.ldc, i, j0+jr, mcur, ncur, sc.tile, nr, g.alpha, beta)
		}
	}
}

// packBPairs packs columns j0..j0+ncur of op(B), all k rows, into one
// panel of nr columns in pairs along k: dst[(p/2)*2*nr + 2*j + p%2] =
// op(B)[p, j0+j], zero padded to nr columns and len(dst)/nr rows.
func packBPairs(dst []uint16, b []float32, ldb int, trans bool, j0, ncur, k, nr int) {
	k2 := roundUp(k, 2)
	if !trans {
		// op(B)[p, j] = b[p*ldb + j]: rows p and p+1 interleave.
		for p := 0; p < k; p += 2 {
			d := dst[p*nr : p*nr+2*nr]
			var r1 []float32
			if p+1 < k {
				r1 = b[(p+1)*ldb+j0 : (p+1)*ldb+j0+ncur]
			}
			pairBF16(d, b[p*ldb+j0:p*ldb+j0+ncur], r1)
			clear(d[2*ncur:])
		}
		clear(dst[k2*nr:])
		return
	}
	// op(B)[p, j] = b[j*ldb + p]: column j of op(B) is row j of b, whose
	// bfloat16 form is already its pairs; the panel is their transpose.
	tp := getPairScratch(nr * k2)
	t := *tp
	for j := range nr {
		row := t[j*k2 : (j+1)*k2]
		if j < ncur {
			narrowBF16(row, b[(j0+j)*ldb:(j0+j)*ldb+k])
			clear(row[k:])
		} else {
			clear(row)
		}
	}
	transposePairs(dst, nr, t, k2/2, nr, k2/2)
	pairScratch.Put(tp)
	clear(dst[k2*nr:])
}

// packAPairs is packA for kernels that broadcast pairs of A: panel ir
// holds dst[ir*kp + (p/2)*2*mr + 2*r + p%2] = op(A)[i0+ir+r, p0+p].
func packAPairs(dst []uint16, a []float32, lda int, trans bool, i0, p0, rows, kc, kp, mr int) {
	var tp *[]uint16
	if !trans {
		tp = getPairScratch(mr * kp)
	}
	for ir := 0; ir < rows; ir += mr {
		mcur := min(mr, rows-ir)
		d := dst[ir*kp : ir*kp+mr*kp]
		i := i0 + ir
		if trans {
			// op(A)[i, p] = a[p*lda + i]: rows p and p+1 interleave.
			for p := 0; p < kp; p += 2 {
				dp := d[p*mr : p*mr+2*mr]
				switch {
				case p+1 < kc:
					pairBF16(dp, a[(p0+p)*lda+i:(p0+p)*lda+i+mcur], a[(p0+p+1)*lda+i:(p0+p+1)*lda+i+mcur])
				case p < kc:
					pairBF16(dp, a[(p0+p)*lda+i:(p0+p)*lda+i+mcur], nil)
				default:
					clear(dp[:2*mcur])
				}
				clear(dp[2*mcur:])
			}
			continue
		}
		// Rows of A are contiguous along k: narrow them, then turn the
		// rows of pairs into columns.
		t := *tp
		for r := range mr {
			row := t[r*kp : (r+1)*kp]
			if r < mcur {
				narrowBF16(row, a[(i+r)*lda+p0:(i+r)*lda+p0+kc])
				clear(row[kc:])
			} else {
				clear(row)
			}
		}
		transposePairs(d, mr, t, kp/2, mr, kp/2)
	}
	if tp != nil {
		pairScratch.Put(tp)
	}
}

// packARows is packA for tile kernels: panel ir holds op(A)'s rows
// row-major, dst[ir*kp + r*kp + p] = op(A)[i0+ir+r, p0+p].
func packARows(dst []uint16, a []float32, lda int, trans bool, i0, p0, rows, kc, kp, mr int) {
	if !trans {
		for ir := 0; ir < rows; ir += mr {
			mcur := min(mr, rows-ir)
			d := dst[ir*kp : ir*kp+mr*kp]
			i := i0 + ir
			for r := range mcur {
				row := d[r*kp : (r+1)*kp]
				narrowBF16(row, a[(i+r)*lda+p0:(i+r)*lda+p0+kc])
				clear(row[kc:])
			}
			clear(d[mcur*kp:])
		}
		return
	}
	// op(A)[i, p] = a[p*lda + i]: pair rows p and p+1 of a across all the
	// block's rows (t[q][r], rows wide), then turn each panel's columns of
	// pairs into its rows.
	w := roundUp(rows, mr)
	tp := getPairScratch(w * kp)
	t := *tp
	for p := 0; p < kp; p += 2 {
		tq := t[p*w : p*w+2*w]
		switch {
		case p+1 < kc:
			pairBF16(tq, a[(p0+p)*lda+i0:(p0+p)*lda+i0+rows], a[(p0+p+1)*lda+i0:(p0+p+1)*lda+i0+rows])
		case p < kc:
			pairBF16(tq, a[(p0+p)*lda+i0:(p0+p)*lda+i0+rows], nil)
		default:
			clear(tq[:2*rows])
		}
		clear(tq[2*rows:])
	}
	for ir := 0; ir < rows; ir += mr {
		transposePairs(dst[ir*kp:ir*kp+mr*kp], kp/2, t[2*ir:], w, kp/2, mr)
	}
	pairScratch.Put(tp)
}
