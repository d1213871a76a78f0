package moe

import (
	"fmt"
	"math"
	"slices"
	"unsafe"

	"github.com/bfcdev/bfc/runtime/kernels"
)

// Expert choice selection by radix select: a few histogram passes over the
// order-preserving bit pattern of the probabilities find the k-th best
// value, then one scan in member order takes the winners, so they come out
// sorted by token and ties go to the lower token without a sort.

// selBits is the number of key bits one histogram pass resolves.
const selBits = 11

// probKey maps a probability to an unsigned key with the same order
// (-0 = +0); NaN gets 0, below every number. The key has keyBits[F] bits.
func probKey[F kernels.Float](v F) uint64 {
	if v != v {
		return 0
	}
	if v == 0 {
		v = 0
	}
	var b, sign uint64
	if is32[F]() {
		b, sign = uint64(math.Float32bits(float32(v))), 1<<31
	} else {
		b, sign = math.Float64bits(float64(v)), 1<<63
	}
	if b&sign != 0 {
		return ^b & (sign<<1 - 1)
	}
	return b | sign
}

func is32[F kernels.Float]() bool {
	var z F
	return unsafe.Sizeof(z) == 4
}

func keyBits[F kernels.Float]() int {
	if is32[F]() {
		return 32
	}
	return 64
}

// selStack is the largest group whose keys selectTokens gathers into
// arrays on its stack; larger groups read the probabilities in place.
const selStack = 2048

// selectThreshold finds the k-th largest key of col[i·stride], i < n
// (0 < k ≤ n). It returns the key prefix pre under mask such that
// every member with key&mask > pre is taken, and the first take members
// with key&mask == pre (in member order) are taken too.
func selectThreshold[F kernels.Float](col []F, stride, n, k int) (pre, mask uint64, take int) {
	take = k
	var hist [1 << selBits]int32
	for hi := keyBits[F](); hi > 0; {
		lo := max(hi-selBits, 0)
		clear(hist[:])
		bm := uint64(1)<<(hi-lo) - 1
		for i := range n {
			key := probKey(col[i*stride])
			if key&mask == pre {
				hist[(key>>lo)&bm]++
			}
		}
		b := int(bm)
		for ; b > 0 && int(hist[b]) < take; b-- {
			take -= int(hist[b])
		}
		pre |= uint64(b) << lo
		mask |= bm << lo
		if int(hist[b]) == take {
			break
		}
		hi = lo
	}
	return pre, mask, take
}

// selectThresholdKeys is selectThreshold over gathered keys of bits bits;
// after each pass the keys of the boundary bin are compacted into cand
// (len(cand) ≥ len(keys)), so later passes see only those.
func selectThresholdKeys(keys, cand []uint64, bits, k int) (pre, mask uint64, take int) {
	take = k
	var hist [1 << selBits]int32
	src := keys
	for hi := bits; hi > 0; {
		lo := max(hi-selBits, 0)
		clear(hist[:])
		bm := uint64(1)<<(hi-lo) - 1
		for _, key := range src {
			hist[(key>>lo)&bm]++
		}
		b := int(bm)
		for ; b > 0 && int(hist[b]) < take; b-- {
			take -= int(hist[b])
		}
		pre |= uint64(b) << lo
		mask |= bm << lo
		if int(hist[b]) == take {
			break
		}
		nc := 0
		for _, key := range src {
			if (key>>lo)&bm == uint64(b) {
				cand[nc] = key
				nc++
			}
		}
		src = cand[:nc]
		hi = lo
	}
	return pre, mask, take
}

// memberSpan returns the first token of group g and the token step
// between its members: member(g, i) = first + i·step.
func (ws *Workspace[F]) memberSpan(g int) (first, step int) {
	switch ws.cfg.Group {
	case GroupSequence:
		return g * ws.seq, 1
	case GroupPosition:
		return g, ws.seq
	}
	return 0, 1
}

// selectTokens fills expert ex's k slots of group g with the k members of
// highest probability (ties to the lower member, which is the lower token
// in every group order), sorted by token.
func (ws *Workspace[F]) selectTokens(g, ex int) {
	k, e, n := ws.capac, ws.e, ws.n
	off := int(ws.expOff[ex]) + g*k
	first, step := ws.memberSpan(g)
	col := ws.probs[first*e+ex:]
	stride := step * e
	var keys, cand [selStack]uint64
	var pre, mask uint64
	var take int
	if n <= selStack {
		for i := range n {
			keys[i] = probKey(col[i*stride])
		}
		pre, mask, take = selectThresholdKeys(keys[:n], cand[:], keyBits[F](), k)
	} else {
		pre, mask, take = selectThreshold(col, stride, n, k)
	}
	toks := ws.slotTok[off : off+k]
	gates := ws.slotGate[off : off+k]
	exps := ws.slotExp[off : off+k]
	j := 0
	for i := range n {
		var key uint64
		if n <= selStack {
			key = keys[i] & mask
		} else {
			key = probKey(col[i*stride]) & mask
		}
		if key < pre || (key == pre && take == 0) {
			continue
		}
		if key == pre {
			take--
		}
		toks[j] = int32(first + i*step)
		gates[j] = col[i*stride]
		exps[j] = int32(ex)
		j++
	}
	if j != k {
		panic(fmt.Sprintf("moe: internal error: expert %d took %d tokens of group %d, want %d", ex, j, g, k))
	}
}

// fillUntaken gives every token no expert took to its expert of highest
// probability (ties to the lower expert; NaN below every number): after
// each expert's selected slots come its extra tokens, in token order.
func (ws *Workspace[F]) fillUntaken() {
	t, e := ws.t, ws.e
	taken := ws.tokCur[:t]
	clear(taken)
	for _, tok := range ws.slotTok[:ws.slots] {
		taken[tok] = 1
	}
	extra := ws.extra
	clear(extra)
	for tok := range t {
		if taken[tok] != 0 {
			taken[tok] = -1
			continue
		}
		ex := bestExpert(ws.probs[tok*e : (tok+1)*e])
		taken[tok] = int32(ex)
		extra[ex]++
	}
	// Move each expert's selected block right by the extras before it,
	// last expert first; extra[ex] then becomes the cursor where its extra
	// tokens go, after its block.
	var total int32
	for _, n := range extra {
		total += n
	}
	if total == 0 {
		return
	}
	shift, end := total, ws.expOff[e]
	for ex := e - 1; ex >= 0; ex-- {
		shift -= extra[ex]
		from := ws.expOff[ex]
		sel, to := end-from, from+shift
		if shift > 0 {
			copy(ws.slotTok[to:to+sel], ws.slotTok[from:from+sel])
			copy(ws.slotGate[to:to+sel], ws.slotGate[from:from+sel])
			copy(ws.slotExp[to:to+sel], ws.slotExp[from:from+sel])
		}
		ws.expOff[ex], extra[ex], end = to, to+sel, from
	}
	ws.slots += int(total)
	ws.expOff[e] = int32(ws.slots)
	cur := extra
	for tok := range t {
		ex := taken[tok]
		if ex < 0 {
			continue
		}
		s := cur[ex]
		ws.slotTok[s] = int32(tok)
		ws.slotGate[s] = ws.probs[tok*e+int(ex)]
		ws.slotExp[s] = ex
		cur[ex]++
	}
}

// bestExpert returns the index of the largest probability, ties to the
// lower index, NaN below every number.
func bestExpert[F kernels.Float](p []F) int {
	best, bv := 0, probKey(p[0])
	for i := 1; i < len(p); i++ {
		if k := probKey(p[i]); k > bv {
			best, bv = i, k
		}
	}
	return best
}

// selectCausal runs causal expert choice on group g for every expert: the
// members ranked by probability (best first, ties to the lower member),
// then, in member order, a Fenwick tree over ranks counts the earlier
// members ranked above member i; the expert takes i when that count is
// below floor((i+1)·c/E). The members taken go to ctok, their count to cnt.
func (ws *Workspace[F]) selectCausal(g int) {
	e, n := ws.e, ws.n
	first, step := ws.memberSpan(g)
	idx := ws.cidx[g*n : (g+1)*n]
	rank := ws.crank[g*n : (g+1)*n]
	key := ws.ckey[g*n : (g+1)*n]
	bit := ws.cbit[g*(n+1) : (g+1)*(n+1)]
	ce := ws.cfg.Capacity / float64(e)
	for ex := range e {
		for i := range n {
			key[i] = probKey(ws.probs[(first+i*step)*e+ex])
			idx[i] = int32(i)
		}
		slices.SortFunc(idx, func(a, b int32) int {
			if key[a] != key[b] {
				if key[a] > key[b] {
					return -1
				}
				return 1
			}
			return int(a - b)
		})
		for r, i := range idx {
			rank[i] = int32(r)
		}
		clear(bit)
		out := ws.ctok[(g*e+ex)*n : (g*e+ex+1)*n]
		taken := 0
		for i := range n {
			r := int(rank[i])
			above := 0 // earlier members ranked above: ranks 0 … r-1
			for j := r; j > 0; j -= j & -j {
				above += int(bit[j])
			}
			if above < int(math.Floor(float64(i+1)*ce+capEps)) {
				out[taken] = int32(first + i*step)
				taken++
			}
			for j := r + 1; j <= n; j += j & -j {
				bit[j]++
			}
		}
		ws.cnt[g*e+ex] = int32(taken)
	}
}

// fillCausal writes group g's causal selections into their slots.
func (ws *Workspace[F]) fillCausal(g int) {
	e, n := ws.e, ws.n
	for ex := range e {
		s := ws.goff[g*e+ex]
		for _, tok := range ws.ctok[(g*e+ex)*n : (g*e+ex)*n+int(ws.cnt[g*e+ex])] {
			ws.slotTok[s] = tok
			ws.slotGate[s] = ws.probs[int(tok)*e+ex]
			ws.slotExp[s] = int32(ex)
			s++
		}
	}
}
