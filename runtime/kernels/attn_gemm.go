package kernels

import "math"

// Float32 attention products on the GEMM micro-kernel with operands packed
// once per (batch, head) instead of once per query block: K, V, Q and dO
// each serve every block of the head.

// attnPack is one seq×hd head matrix X packed as the B operand of the
// micro-kernel, in panels of nr columns: trans false packs B = X (k runs
// over tokens), trans true packs B = Xᵀ (k runs over the head dim).
type attnPack struct {
	data       []float32
	rows, cols int // of B
}

// pack fills p from the n×hd matrix x with leading dimension ld.
func (p *attnPack) pack(x []float32, ld, n, hd, nr int, trans bool, buf []float32) {
	if trans {
		p.rows, p.cols = hd, n
	} else {
		p.rows, p.cols = n, hd
	}
	panels := ceilDiv(p.cols, nr)
	p.data = buf[:panels*p.rows*nr]
	for pj := range panels {
		panel := p.data[pj*p.rows*nr : (pj+1)*p.rows*nr]
		j0 := pj * nr
		ncur := min(nr, p.cols-j0)
		if !trans {
			// B[t, j] = x[t*ld + j]: row t of the panel is a piece of row t.
			for t := range n {
				d := panel[t*nr : t*nr+nr]
				copy(d, x[t*ld+j0:t*ld+j0+ncur])
				clear(d[ncur:])
			}
			continue
		}
		// B[c, t] = x[t*ld + c]: token t is column t-j0 of the panel.
		if ncur < nr {
			clear(panel)
		}
		for q := range ncur {
			src := x[(j0+q)*ld : (j0+q)*ld+hd]
			for c, v := range src {
				panel[c*nr+q] = v
			}
		}
	}
}

// attnPackSize bounds the length of a packed n×hd matrix.
func attnPackSize(n, hd, nr int) int {
	return max(ceilDiv(n, nr)*nr*hd, ceilDiv(hd, nr)*nr*n)
}

// Causal shapes of mulPacked: which parts of a product a causal mask
// leaves, with row 0 of A (or k index 0) at query diag of the sequence.
const (
	attnAll       = iota
	attnSkipAbove // rows are queries diag+r, columns keys: tiles whose keys all follow their queries are skipped
	attnKUpTo     // rows are queries diag+r, k runs over keys: keys after a tile's last query are skipped
	attnKFrom     // rows are keys, k runs over queries diag+p: queries before a tile's first key are skipped
)

// mulPacked sets C = alpha*A·B[p0:p0+k, 0:n] + beta*C (beta 0: C is not
// read) for the m×k matrix A[i, p] = a[i*rs + p*cs] and a packed B,
// leaving out what causal rules out: skipped terms are exact zeros, and
// skipped attnSkipAbove entries are left unwritten. pa (mr×kc) and tile
// (mr×nr) are scratch.
func (s *sgemmImpl) mulPacked(m, n, k int, alpha float32, a []float32, rs, cs int, b *attnPack, p0 int, beta float32, c []float32, ldc int, causal, diag int, pa, tile []float32) {
	mr, nr := s.mr, s.nr
	for i := 0; i < m; i += mr {
		mcur := min(mr, m-i)
		kLo, kHi, nHi := 0, k, n
		switch causal {
		case attnSkipAbove:
			nHi = min(n, diag+i+mcur)
		case attnKUpTo:
			kHi = min(k, diag+i+mcur)
		case attnKFrom:
			kLo = min(k, max(0, i-diag))
		}
		if kLo == kHi {
			scaleMat(c[i*ldc:], mcur, nHi, ldc, beta)
			continue
		}
		for kk := kLo; kk < kHi; kk += s.kc {
			kc := min(s.kc, kHi-kk)
			bt := beta
			if kk > kLo {
				bt = 1
			}
			var ap *float32
			r, q := rs, cs
			if mcur < mr {
				d := pa[:kc*mr]
				clear(d)
				for ii := range mcur {
					for p := range kc {
						d[p*mr+ii] = a[(i+ii)*rs+(kk+p)*cs]
					}
				}
				ap, r, q = &d[0], 1, mr
			} else {
				ap = &a[i*rs+kk*cs]
			}
			for j := 0; j < nHi; j += nr {
				ncur := min(nr, n-j)
				bp := &b.data[(j/nr)*b.rows*nr+(p0+kk)*nr]
				if mcur == mr && ncur == nr {
					s.kernel(kc, ap, r, q, bp, &c[i*ldc+j], ldc, alpha, bt)
					continue
				}
				s.kernel(kc, ap, r, q, bp, &tile[0], nr, 1, 0)
				storeEdge(c, ldc, i, j, mcur, ncur, tile, nr, alpha, bt)
			}
		}
	}
}

// Packed operands of one head.
const (
	packKT = iota  // Kᵀ: B of S = Q·Kᵀ
	packVT         // Vᵀ: B of dP = dO·Vᵀ
	packK          // K: B of dQ = dS·K
	packV          // V: B of O = P·V
	packQ          // Q: B of dK = dSᵀ·Q
	packDO = packV // dO: B of dV = Pᵀ·dO (backward only; V is forward only)
)

// growPacked sizes the packed-path scratch for job j.
func growPacked(j *attnJob[float32], sc *attnScratch[float32]) {
	s := sgemmUse
	one := attnPackSize(j.seq, j.hd, s.nr)
	if len(sc.packBuf) < len(sc.packs)*one || len(sc.tile) != s.mr*s.nr || len(sc.pa) < s.mr*s.kc {
		sc.packBuf = make([]float32, len(sc.packs)*one)
		sc.pa, sc.tile = make([]float32, s.mr*s.kc), make([]float32, s.mr*s.nr)
	}
}

// packOne packs the first n rows of the head matrix x (leading dimension
// ld) into slot.
func packOne(j *attnJob[float32], sc *attnScratch[float32], slot int, x []float32, ld, n int, trans bool) *attnPack {
	s := sgemmUse
	one := attnPackSize(j.seq, j.hd, s.nr)
	p := &sc.packs[slot]
	p.pack(x, ld, n, j.hd, s.nr, trans, sc.packBuf[slot*one:(slot+1)*one])
	return p
}

// forwardHead runs query blocks blk0..blk1 of head (b, h): K and V are
// packed once for the keys the last block sees.
func forwardHead(j *attnJob[float32], b, h, blk0, blk1 int, sc *attnScratch[float32]) {
	s := sgemmUse
	hd := j.hd
	ld, ldo := 3*j.heads*hd, j.heads*hd
	base := b * j.seq * ld
	_, _, nkMax := j.blockGeom(blk1 - 1)
	kT := packOne(j, sc, packKT, j.qkv[base+(j.heads+h)*hd:], ld, nkMax, true)
	vN := packOne(j, sc, packV, j.qkv[base+(2*j.heads+h)*hd:], ld, nkMax, false)
	scale := float32(1 / math.Sqrt(float64(hd)))
	cz := j.causalShape
	for blk := blk0; blk < blk1; blk++ {
		i0, nq, nk := j.blockGeom(blk)
		p := sc.s[:nq*nk]
		s.mulPacked(nq, nk, hd, scale, j.qkv[(b*j.seq+i0)*ld+h*hd:], ld, 1, kT, 0, 0, p, nk, cz(attnSkipAbove), i0, sc.pa, sc.tile)
		j.softmaxRows(b, h, i0, nq, nk, p)
		j.roundOperand(p)
		s.mulPacked(nq, hd, nk, 1, p, nk, 1, vN, 0, 0, j.out[(b*j.seq+i0)*ldo+h*hd:], ldo, cz(attnKUpTo), i0, sc.pa, sc.tile) // O = P·V
	}
}

// backwardHead runs AttentionBackward for head (b, h) with K, V, Q and
// dO packed once.
func backwardHead(j *attnJob[float32], b, h int, sc *attnScratch[float32]) {
	s := sgemmUse
	hd, seq := j.hd, j.seq
	ld, ldo := 3*j.heads*hd, j.heads*hd
	base := b * seq * ld
	q := j.qkv[base+h*hd:]
	k := j.qkv[base+(j.heads+h)*hd:]
	v := j.qkv[base+(2*j.heads+h)*hd:]
	do := j.dout[b*seq*ldo+h*hd:]
	o := j.out[b*seq*ldo+h*hd:]
	dq := j.dqkv[base+h*hd:]
	dk := j.dqkv[base+(j.heads+h)*hd:]
	dv := j.dqkv[base+(2*j.heads+h)*hd:]
	kT := packOne(j, sc, packKT, k, ld, seq, true)
	vT := packOne(j, sc, packVT, v, ld, seq, true)
	kN := packOne(j, sc, packK, k, ld, seq, false)
	qN := packOne(j, sc, packQ, q, ld, seq, false)
	doN := packOne(j, sc, packDO, do, ldo, seq, false)
	scale := float32(1 / math.Sqrt(float64(hd)))
	cz := j.causalShape
	for blk := range j.nblk {
		i0, nq, nk := j.blockGeom(blk)
		p, dp := sc.s[:nq*nk], sc.dp[:nq*nk]
		s.mulPacked(nq, nk, hd, scale, q[i0*ld:], ld, 1, kT, 0, 0, p, nk, cz(attnSkipAbove), i0, sc.pa, sc.tile)
		j.softmaxRows(b, h, i0, nq, nk, p)
		s.mulPacked(nq, nk, hd, 1, do[i0*ldo:], ldo, 1, vT, 0, 0, dp, nk, cz(attnSkipAbove), i0, sc.pa, sc.tile) // dP = dO·Vᵀ
		j.dsRows(i0, nq, nk, p, dp, do[i0*ldo:], o[i0*ldo:], ldo)
		j.roundOperand(p)
		s.mulPacked(nk, hd, nq, 1, p, 1, nk, doN, i0, 1, dv, ld, cz(attnKFrom), i0, sc.pa, sc.tile) // dV += Pᵀ·dO
		j.roundOperand(dp)
		s.mulPacked(nq, hd, nk, 1, dp, nk, 1, kN, 0, 1, dq[i0*ld:], ld, cz(attnKUpTo), i0, sc.pa, sc.tile) // dQ += dS·K
		s.mulPacked(nk, hd, nq, 1, dp, 1, nk, qN, i0, 1, dk, ld, cz(attnKFrom), i0, sc.pa, sc.tile)        // dK += dSᵀ·Q
	}
}

// causalShape returns shape for a causal job, else attnAll.
func (j *attnJob[T]) causalShape(shape int) int {
	if j.causal {
		return shape
	}
	return attnAll
}
