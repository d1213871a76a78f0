package kernels

import (
	"math"
	"runtime"
)

// Attention computes multi-head scaled dot-product attention.
//
// qkv is [batch*seq, 3*heads*headDim]: each row holds q for all heads, then
// k for all heads, then v for all heads; head h uses columns
// h*headDim..(h+1)*headDim of each part. out is [batch*seq, heads*headDim]
// in the same head layout. Scores are scaled by 1/sqrt(headDim); with causal
// set, query s only sees keys s' <= s. lse ([batch*heads*seq], index
// (b*heads+h)*seq+s) receives the log-sum-exp of each query's scaled
// scores, for AttentionBackward.
func Attention[F Float](out, lse, qkv []F, batch, seq, heads, headDim int, causal bool) {
	checkAttention("Attention", len(out), len(lse), len(qkv), batch, seq, heads, headDim)
	if is32[F]() {
		attention(as32(out), as32(lse), as32(qkv), nil, nil, batch, seq, heads, headDim, causal, false)
	} else {
		attention(as64(out), as64(lse), as64(qkv), nil, nil, batch, seq, heads, headDim, causal, false)
	}
}

// AttentionBackward accumulates into dqkv the gradient of Attention given
// dout, the inputs qkv and the forward's out and lse. Probabilities are
// recomputed from lse (flash-attention style) with D = rowsum(dout*out):
//
//	P = exp(Q·Kᵀ/√d - lse);  dV += Pᵀ·dO;  dP = dO·Vᵀ
//	dS = P*(dP - D)/√d;  dQ += dS·K;  dK += dSᵀ·Q
func AttentionBackward[F Float](dqkv, dout, qkv, out, lse []F, batch, seq, heads, headDim int, causal bool) {
	checkAttention("AttentionBackward", len(out), len(lse), len(qkv), batch, seq, heads, headDim)
	checkLen("AttentionBackward", "dqkv", len(dqkv), len(qkv))
	checkLen("AttentionBackward", "dout", len(dout), len(out))
	if is32[F]() {
		attention(as32(out), as32(lse), as32(qkv), as32(dqkv), as32(dout), batch, seq, heads, headDim, causal, true)
	} else {
		attention(as64(out), as64(lse), as64(qkv), as64(dqkv), as64(dout), batch, seq, heads, headDim, causal, true)
	}
}

// AttentionBF16 is Attention in bf16 precision: the products Q·Kᵀ and P·V
// take operands rounded to bfloat16 and sum in float32; the softmax, lse
// and out stay float32. It rounds qkv to bfloat16 in place (as autocast's
// projection would have returned it): qkv is attention's own input, and
// AttentionBackwardBF16 reads it rounded.
func AttentionBF16(out, lse, qkv []float32, batch, seq, heads, headDim int, causal bool) {
	checkAttention("AttentionBF16", len(out), len(lse), len(qkv), batch, seq, heads, headDim)
	RoundBF16s(qkv, qkv)
	attentionOf(out, lse, qkv, nil, nil, batch, seq, heads, headDim, causal, false, true)
}

// AttentionBackwardBF16 is AttentionBackward in bf16 precision: every
// product (the recomputed scores, dV, dP, dQ, dK) takes bfloat16 operands;
// P for dS and the sums stay float32. It rounds qkv and dout to bfloat16
// in place (D = rowsum(dout*out) then reads the rounded dout, as under
// autocast).
func AttentionBackwardBF16(dqkv, dout, qkv, out, lse []float32, batch, seq, heads, headDim int, causal bool) {
	checkAttention("AttentionBackwardBF16", len(out), len(lse), len(qkv), batch, seq, heads, headDim)
	checkLen("AttentionBackwardBF16", "dqkv", len(dqkv), len(qkv))
	checkLen("AttentionBackwardBF16", "dout", len(dout), len(out))
	RoundBF16s(qkv, qkv)
	RoundBF16s(dout, dout)
	attentionOf(out, lse, qkv, dqkv, dout, batch, seq, heads, headDim, causal, true, true)
}

func checkAttention(kernel string, nout, nlse, nqkv, batch, seq, heads, headDim int) {
	checkLen(kernel, "qkv", nqkv, batch*seq*3*heads*headDim)
	checkLen(kernel, "out", nout, batch*seq*heads*headDim)
	checkLen(kernel, "lse", nlse, batch*heads*seq)
}

// attnBlock is the number of query rows handled at once; the score block
// is attnBlock×seq.
const attnBlock = 64

// attnJob is one Attention or AttentionBackward call. The forward pass is
// split into (batch, head, query block) chunks, or (batch, head) chunks
// when there are many heads; the backward pass into (batch, head) chunks
// since query blocks share dK and dV. Causal blocks stop at the diagonal.
type attnJob[T real] struct {
	out, lse, qkv, dqkv, dout []T
	bf16                      bool // products on bfloat16 operands: qkv and dout come rounded, P and dS are rounded here
	batch, seq, heads, hd     int
	causal, backward          bool
	nblk                      int  // query blocks per sequence
	packed                    bool // float32 on a micro-kernel: attn_gemm.go
	headUnits                 bool // forward chunks are (batch, head)
}

// attnScratch holds one participant's score blocks and, on the packed
// path, its packed operands and micro-kernel scratch.
type attnScratch[T real] struct {
	s, dp []T

	packs    [5]attnPack
	packBuf  []float32
	pa, tile []float32
}

var (
	attnJobs32    = freePool{New: func() any { return new(attnJob[float32]) }}
	attnJobs64    = freePool{New: func() any { return new(attnJob[float64]) }}
	attnScratch32 = freePool{New: func() any { return new(attnScratch[float32]) }}
	attnScratch64 = freePool{New: func() any { return new(attnScratch[float64]) }}
)

func attention[T real](out, lse, qkv, dqkv, dout []T, batch, seq, heads, hd int, causal, backward bool) {
	attentionOf(out, lse, qkv, dqkv, dout, batch, seq, heads, hd, causal, backward, false)
}

// attentionOf is attention with bf16 rounding of P and dS (see attnJob).
func attentionOf[T real](out, lse, qkv, dqkv, dout []T, batch, seq, heads, hd int, causal, backward, bf16 bool) {
	if batch == 0 || seq == 0 || heads == 0 {
		return
	}
	pool := pick[T](&attnJobs32, &attnJobs64)
	j := pool.Get().(*attnJob[T])
	*j = attnJob[T]{
		out: out, lse: lse, qkv: qkv, dqkv: dqkv, dout: dout, bf16: bf16,
		batch: batch, seq: seq, heads: heads, hd: hd,
		causal: causal, backward: backward, nblk: ceilDiv(seq, attnBlock),
	}
	_, is32 := any(out).([]float32)
	j.packed = is32 && sgemmUse.kernel != nil
	n := batch * heads
	// Whole heads share packed K and V; query blocks spread better over
	// many cores. Each block's arithmetic is the same either way.
	j.headUnits = j.packed && n >= 4*runtime.GOMAXPROCS(0)
	if !backward && !j.headUnits {
		n *= j.nblk
	}
	runParallel(j, n)
	*j = attnJob[T]{}
	pool.Put(j)
}

func (j *attnJob[T]) runChunks(pj *parJob) {
	sp := pick[T](&attnScratch32, &attnScratch64)
	s := sp.Get().(*attnScratch[T])
	if need := attnBlock * j.seq; cap(s.s) < need {
		s.s, s.dp = make([]T, need), make([]T, need)
	}
	if j.packed {
		j32 := any(j).(*attnJob[float32])
		s32 := any(s).(*attnScratch[float32])
		growPacked(j32, s32)
		for i, ok := pj.claim(); ok; i, ok = pj.claim() {
			switch {
			case j.backward:
				backwardHead(j32, i/j.heads, i%j.heads, s32)
			case j.headUnits:
				forwardHead(j32, i/j.heads, i%j.heads, 0, j.nblk, s32)
			default:
				bh := i / j.nblk
				forwardHead(j32, bh/j.heads, bh%j.heads, i%j.nblk, i%j.nblk+1, s32)
			}
		}
		sp.Put(s)
		return
	}
	for i, ok := pj.claim(); ok; i, ok = pj.claim() {
		if j.backward {
			for blk := range j.nblk {
				j.backwardBlock(i/j.heads, i%j.heads, blk, s)
			}
		} else {
			bh := i / j.nblk
			j.forwardBlock(bh/j.heads, bh%j.heads, i%j.nblk, s)
		}
	}
	sp.Put(s)
}

// blockGeom returns the query rows [i0, i0+nq) of block blk and the number
// of keys nk they can see.
func (j *attnJob[T]) blockGeom(blk int) (i0, nq, nk int) {
	i0 = blk * attnBlock
	nq = min(attnBlock, j.seq-i0)
	nk = j.seq
	if j.causal {
		nk = i0 + nq
	}
	return
}

// scores sets s (nq×nk) to the probabilities of block blk of head (b, h).
// In the forward pass they are normalized here and lse is written; in the
// backward pass they come from the saved lse.
func (j *attnJob[T]) scores(b, h, blk int, s []T) (i0, nq, nk int) {
	i0, nq, nk = j.blockGeom(blk)
	ld := 3 * j.heads * j.hd
	q := j.qkv[(b*j.seq+i0)*ld+h*j.hd:]
	k := j.qkv[b*j.seq*ld+(j.heads+h)*j.hd:]
	scale := T(1 / math.Sqrt(float64(j.hd)))
	gemm(false, true, nq, nk, j.hd, scale, q, ld, k, ld, 0, s, nk, false)
	j.softmaxRows(b, h, i0, nq, nk, s)
	return
}

// softmaxRows turns the scaled scores s (nq×nk) of the queries from i0
// into probabilities (see scores).
func (j *attnJob[T]) softmaxRows(b, h, i0, nq, nk int, s []T) {
	lse := j.lse[(b*j.heads+h)*j.seq+i0:]
	s32, _ := any(s).([]float32)
	l32, _ := any(lse).([]float32)
	for r := range nq {
		row := s[r*nk : r*nk+nk]
		lim := nk
		if j.causal {
			lim = i0 + r + 1
		}
		switch {
		case s32 != nil && j.backward:
			attnProbRow32(s32[r*nk:r*nk+lim], l32[r])
		case s32 != nil:
			l32[r] = attnSoftmaxRow32(s32[r*nk : r*nk+lim])
		case j.backward:
			l := float64(lse[r])
			for c := range lim {
				row[c] = T(math.Exp(float64(row[c]) - l))
			}
		default:
			m := float64(rowMax(row[:lim]))
			var sum float64
			for c := range lim {
				e := math.Exp(float64(row[c]) - m)
				sum += e
				row[c] = T(e)
			}
			inv := T(1 / sum)
			for c := range lim {
				row[c] *= inv
			}
			lse[r] = T(m + math.Log(sum))
		}
		clear(row[lim:])
	}
}

func (j *attnJob[T]) forwardBlock(b, h, blk int, sc *attnScratch[T]) {
	i0, nq, nk := j.scores(b, h, blk, sc.s)
	j.roundOperand(sc.s[:nq*nk])
	ld, ldo := 3*j.heads*j.hd, j.heads*j.hd
	v := j.qkv[b*j.seq*ld+(2*j.heads+h)*j.hd:]
	o := j.out[(b*j.seq+i0)*ldo+h*j.hd:]
	gemm(false, false, nq, j.hd, nk, 1, sc.s, nk, v, ld, 0, o, ldo, false)
}

func (j *attnJob[T]) backwardBlock(b, h, blk int, sc *attnScratch[T]) {
	i0, nq, nk := j.scores(b, h, blk, sc.s)
	hd := j.hd
	ld, ldo := 3*j.heads*hd, j.heads*hd
	base := b * j.seq * ld
	q := j.qkv[(b*j.seq+i0)*ld+h*hd:]
	k := j.qkv[base+(j.heads+h)*hd:]
	v := j.qkv[base+(2*j.heads+h)*hd:]
	dq := j.dqkv[(b*j.seq+i0)*ld+h*hd:]
	dk := j.dqkv[base+(j.heads+h)*hd:]
	dv := j.dqkv[base+(2*j.heads+h)*hd:]
	do := j.dout[(b*j.seq+i0)*ldo+h*hd:]
	o := j.out[(b*j.seq+i0)*ldo+h*hd:]
	p, dp := sc.s[:nq*nk], sc.dp[:nq*nk]

	gemm(false, true, nq, nk, hd, 1, do, ldo, v, ld, 0, dp, nk, false) // dP = dO·Vᵀ
	j.dsRows(i0, nq, nk, p, dp, do, o, ldo)
	j.roundOperand(p)
	gemm(true, false, nk, hd, nq, 1, p, nk, do, ldo, 1, dv, ld, false) // dV += Pᵀ·dO
	j.roundOperand(dp)
	gemm(false, false, nq, hd, nk, 1, dp, nk, k, ld, 1, dq, ld, false) // dQ += dS·K
	gemm(true, false, nk, hd, nq, 1, dp, nk, q, ld, 1, dk, ld, false)  // dK += dSᵀ·Q
}

// roundOperand rounds x to bfloat16 in place when the job is bf16 (x is
// then used only as a product operand).
func (j *attnJob[T]) roundOperand(x []T) {
	if j.bf16 {
		RoundBF16s(as32(x), as32(x))
	}
}

// dsRows turns dp (nq×nk) = dO·Vᵀ into dS = P*(dP - D)/√d.
func (j *attnJob[T]) dsRows(i0, nq, nk int, p, dp, do, o []T, ldo int) {
	hd := j.hd
	scale := 1 / math.Sqrt(float64(hd))
	p32, _ := any(p).([]float32)
	dp32, _ := any(dp).([]float32)
	do32, _ := any(do).([]float32)
	o32, _ := any(o).([]float32)
	for r := range nq {
		lim := nk
		if j.causal {
			lim = i0 + r + 1
		}
		if p32 != nil {
			d := attnDot32(do32[r*ldo:r*ldo+hd], o32[r*ldo:r*ldo+hd])
			attnDSRow32(dp32[r*nk:r*nk+lim], p32[r*nk:r*nk+lim], float32(d), float32(scale))
			clear(dp32[r*nk+lim : r*nk+nk])
			continue
		}
		var d float64
		for c := range hd {
			d += float64(do[r*ldo+c]) * float64(o[r*ldo+c])
		}
		pr, dpr := p[r*nk:r*nk+lim], dp[r*nk:r*nk+lim]
		dd, sc := T(d), T(scale)
		for c := range dpr {
			dpr[c] = pr[c] * (dpr[c] - dd) * sc // dS
		}
		clear(dp[r*nk+lim : r*nk+nk])
	}
}
