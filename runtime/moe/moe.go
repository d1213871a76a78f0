package moe

import (
	"fmt"
	"slices"
	"unsafe"

	"github.com/bfcdev/bfc/runtime/kernels"
)

// tokChunk is the number of tokens per parallel chunk of the token-wise
// passes. The chunking depends only on T, so the partial sums of the
// auxiliary losses add up in the same order on any number of cores.
const tokChunk = 64

// Workspace holds the state one Forward leaves for the Backward that
// follows, sized for MaxBatch·MaxSeq tokens. A Workspace serves one layer
// and one goroutine at a time.
type Workspace[F kernels.Float] struct {
	cfg         Config
	e, d, h, h1 int
	maxT        int

	// The last Forward.
	valid            bool
	batch, seq, t    int
	groups, n, capac int // routing groups, their size, and k (EC) or C (top-k)
	slots            int // filled (token, expert) assignments
	aux              float64

	logits, probs []F       // [T, E]
	lse           []float64 // [T] logsumexp of each token's logits
	// Top-k: per token and rank the expert, the gate, and the slot (-1:
	// dropped); gsum is the gate normaliser Σ_r p_r.
	chExp  []int32
	chSlot []int32
	chGate []F
	gsum   []float64
	frac   []float64 // [E] f_e: share of tokens whose first choice is e

	cnt    []int32 // [groups, E] placements per group and expert
	goff   []int32 // [groups, E] first slot of each group's block in its expert
	expOff []int32 // [E+1] expert e owns slots expOff[e]:expOff[e+1]
	order  []int32 // [E] experts by decreasing load (parallel claim order)
	extra  []int32 // [E] Fill: untaken tokens given to each expert, then each one's fill cursor

	// Causal: per group and expert the members taken ([T·E], n per unit),
	// and per-group scratch of the selection, n per group.
	ctok        []int32
	cidx, crank []int32 // [T]
	cbit        []int32 // [T+groups] Fenwick trees, n+1 per group
	ckey        []uint64

	slotTok  []int32 // [slots] token of each slot
	slotExp  []int32 // [slots] expert of each slot
	slotGate []F     // [slots]
	tokPtr   []int32 // [T+1] token t owns tokSlot[tokPtr[t]:tokPtr[t+1]]
	tokSlot  []int32 // [slots] slots of each token, in expert order
	tokCur   []int32 // [T] fill cursor

	xg, hpre, act, out []F // [slots, D], [slots, H1], [slots, Hidden], [slots, D]

	// Per-chunk scratch and partial sums of the token-wise passes.
	scr   []float64 // [chunks, E]
	pPart []float64 // [chunks, E] Σ probs
	fPart []int32   // [chunks, E] first-choice counts
	zPart []float64 // [chunks] Σ lse²

	// Backward scratch, allocated on the first Backward.
	dbuf, dact, dh []F // [slots, D], [slots, Hidden], [slots, H1]
	dgate          []F // [slots]
	dlogits        []F // [T, E]

	stats Stats
	job   job[F]
}

// NewWorkspace allocates the workspace of a layer. It panics when c does
// not pass Validate.
func NewWorkspace[F kernels.Float](c Config) *Workspace[F] {
	if err := c.Validate(); err != nil {
		panic(err)
	}
	var zero F
	if c.BF16 && unsafe.Sizeof(zero) != 4 {
		panic("moe: BF16 needs a float32 workspace")
	}
	maxT := c.MaxBatch * c.MaxSeq
	e, slots := c.Experts, c.maxSlots()
	maxGroups := max(c.MaxBatch, c.MaxSeq, 1)
	chunks := ceilDiv(maxT, tokChunk)
	ws := &Workspace[F]{
		cfg: c, e: e, d: c.D, h: c.Hidden, h1: c.H1(), maxT: maxT,
		logits: make([]F, maxT*e), probs: make([]F, maxT*e), lse: make([]float64, maxT),
		frac: make([]float64, e),
		cnt:  make([]int32, maxGroups*e), goff: make([]int32, maxGroups*e),
		expOff: make([]int32, e+1), order: make([]int32, e), extra: make([]int32, e),
		slotTok: make([]int32, slots), slotExp: make([]int32, slots), slotGate: make([]F, slots),
		tokPtr: make([]int32, maxT+1), tokSlot: make([]int32, slots), tokCur: make([]int32, maxT),
		xg: make([]F, slots*c.D), hpre: make([]F, slots*c.H1()), act: make([]F, slots*c.Hidden), out: make([]F, slots*c.D),
		scr: make([]float64, chunks*e), pPart: make([]float64, chunks*e), zPart: make([]float64, chunks),
		stats: Stats{Load: make([]int, e)},
	}
	if c.Causal {
		ws.ctok = make([]int32, maxT*e)
		ws.cidx, ws.crank, ws.ckey = make([]int32, maxT), make([]int32, maxT), make([]uint64, maxT)
		ws.cbit = make([]int32, maxT+maxGroups)
	}
	if c.Rule == TopK {
		ws.chExp, ws.chSlot = make([]int32, maxT*c.K), make([]int32, maxT*c.K)
		ws.chGate, ws.gsum = make([]F, maxT*c.K), make([]float64, maxT)
		ws.fPart = make([]int32, chunks*e)
	}
	ws.job.ws = ws
	return ws
}

// Config returns the layer's configuration.
func (ws *Workspace[F]) Config() Config { return ws.cfg }

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// member returns the token of member i of routing group g.
func (ws *Workspace[F]) member(g, i int) int {
	switch ws.cfg.Group {
	case GroupSequence:
		return g*ws.seq + i
	case GroupPosition:
		return i*ws.seq + g
	}
	return i
}

func checkParams(c Config, wg, w1, w2 int) error {
	if wg != c.D*c.Experts || w1 != c.Experts*c.D*c.H1() || w2 != c.Experts*c.Hidden*c.D {
		return fmt.Errorf("moe: parameter lengths wg %d, w1 %d, w2 %d; want %d ([D, E]), %d ([E][D][H1]), %d ([E][Hidden][D])",
			wg, w1, w2, c.D*c.Experts, c.Experts*c.D*c.H1(), c.Experts*c.Hidden*c.D)
	}
	return nil
}

// Forward overwrites y [T, D] (T = batch·seq, token t = b·seq+s) with the
// MoE output of x [T, D] (0 for tokens no expert took) and returns
// aux = AuxWeight·balance + ZWeight·z, which the caller adds to the loss.
// Slices y and x may be longer than T·D; y must not overlap x. The
// parameters must have exactly their documented lengths.
func Forward[F kernels.Float](ws *Workspace[F], y, x, wg, w1, w2 []F, batch, seq int) (aux float64, err error) {
	c := &ws.cfg
	ws.valid = false
	if err := c.CheckShape(batch, seq); err != nil {
		return 0, err
	}
	t := batch * seq
	if len(x) < t*ws.d || len(y) < t*ws.d {
		return 0, fmt.Errorf("moe: x and y have %d and %d elements, need %d for batch %d × seq %d × width %d", len(x), len(y), t*ws.d, batch, seq, ws.d)
	}
	if err := checkParams(*c, len(wg), len(w1), len(w2)); err != nil {
		return 0, err
	}
	ws.batch, ws.seq, ws.t = batch, seq, t
	ws.groups, ws.n = c.GroupShape(batch, seq)
	ws.capac = c.ExpertCapacity(ws.n)
	e := ws.e
	j := &ws.job
	j.x, j.y, j.wg, j.w1, j.w2 = x, y, wg, w1, w2

	// Router: logits, softmax, lse, top-k choices, partial sums.
	kernels.Gemm(false, false, t, e, ws.d, 1, x, ws.d, wg, e, 0, ws.logits, e)
	ws.run(jobRouter, t, tokChunk)
	ws.aux = ws.auxLoss()

	// Routing: fill the slots.
	if c.Rule == ExpertChoice && c.Causal {
		ws.run(jobSelectCausal, ws.groups, 1)
		ws.layoutCounts()
		ws.run(jobFillCausal, ws.groups, 1)
	} else if c.Rule == ExpertChoice {
		k := ws.capac
		for i := range e + 1 {
			ws.expOff[i] = int32(i * ws.groups * k)
		}
		ws.slots = e * ws.groups * k
		units := ws.groups * e
		ws.run(jobSelect, units, max(1, ceilDiv(units, 256)))
	} else {
		ws.run(jobPlace, ws.groups, 1)
		ws.layoutCounts()
		ws.run(jobFill, ws.groups, 1)
	}
	if c.Rule == ExpertChoice && c.Fill {
		ws.fillUntaken()
	}
	if ws.slots > len(ws.slotTok) {
		panic(fmt.Sprintf("moe: internal error: %d slots, room for %d", ws.slots, len(ws.slotTok)))
	}
	ws.index()

	// Experts, then combine.
	ws.run(jobExpertsForward, e, 1)
	ws.run(jobCombine, t, tokChunk)
	ws.valid = true
	j.x, j.y, j.wg, j.w1, j.w2 = nil, nil, nil, nil, nil
	return ws.aux, nil
}

// layoutCounts lays the slots out from cnt, the placements per group and
// expert: expert by expert, each group's block in group order.
func (ws *Workspace[F]) layoutCounts() {
	e := ws.e
	var acc int32
	for ex := range e {
		ws.expOff[ex] = acc
		for g := range ws.groups {
			ws.goff[g*e+ex] = acc
			acc += ws.cnt[g*e+ex]
		}
	}
	ws.expOff[e] = acc
	ws.slots = int(acc)
}

// auxLoss sums the chunks' partial sums into the auxiliary loss.
func (ws *Workspace[F]) auxLoss() float64 {
	c := &ws.cfg
	chunks := ceilDiv(ws.t, tokChunk)
	var aux float64
	if c.Rule == TopK {
		for ex := range ws.e {
			var f int32
			for ch := range chunks {
				f += ws.fPart[ch*ws.e+ex]
			}
			ws.frac[ex] = float64(f) / float64(ws.t)
		}
		if c.AuxWeight != 0 {
			var bal float64
			for ex := range ws.e {
				var p float64
				for ch := range chunks {
					p += ws.pPart[ch*ws.e+ex]
				}
				bal += ws.frac[ex] * p / float64(ws.t)
			}
			aux += c.AuxWeight * float64(ws.e) * bal
		}
	}
	if c.ZWeight != 0 {
		var z float64
		for ch := range chunks {
			z += ws.zPart[ch]
		}
		aux += c.ZWeight * z / float64(ws.t)
	}
	return aux
}

// index builds the token → slot index, the experts' claim order and the
// statistics.
func (ws *Workspace[F]) index() {
	t, e := ws.t, ws.e
	ptr := ws.tokPtr[:t+1]
	clear(ptr)
	for _, tok := range ws.slotTok[:ws.slots] {
		ptr[tok+1]++
	}
	st := &ws.stats
	st.Tokens = t
	st.PerToken = [4]int{}
	for i := range t {
		st.PerToken[min(ptr[i+1], 3)]++
		ptr[i+1] += ptr[i]
	}
	cur := ws.tokCur[:t]
	copy(cur, ptr[:t])
	for s, tok := range ws.slotTok[:ws.slots] {
		ws.tokSlot[cur[tok]] = int32(s)
		cur[tok]++
	}
	for ex := range e {
		st.Load[ex] = int(ws.expOff[ex+1] - ws.expOff[ex])
	}
	st.Choices, st.Dropped = 0, 0
	if ws.cfg.Rule == TopK {
		st.Choices = t * ws.cfg.K
		st.Dropped = st.Choices - ws.slots
	}
	// Heaviest experts first, so the parallel expert pass ends evenly.
	for i := range e {
		ws.order[i] = int32(i)
	}
	for i := 1; i < e; i++ {
		for j := i; j > 0 && st.Load[ws.order[j]] > st.Load[ws.order[j-1]]; j-- {
			ws.order[j], ws.order[j-1] = ws.order[j-1], ws.order[j]
		}
	}
}

// Backward accumulates (+=) into dx [T, D], dwg, dw1 and dw2 the gradients
// of the loss given dy [T, D], its gradient w.r.t. y, and daux, its
// gradient w.r.t. aux (normally 1). x and the parameters must be those of
// the last Forward, whose state it uses. It panics without a Forward or on
// wrong lengths.
func Backward[F kernels.Float](ws *Workspace[F], dx, dwg, dw1, dw2, dy []F, daux F, x, wg, w1, w2 []F) {
	backward(ws, dx, dwg, dw1, dw2, dy, daux, x, wg, w1, w2, 1)
}

// BackwardSet is Backward, except that it sets dwg, dw1 and dw2 to the
// parameter gradients instead of adding to them (dx is still added to).
// Generated code calls it when nothing else contributes to those
// gradients, which saves zeroing them and reading them back: at 64
// experts the expert weight gradients are far larger than the caches.
func BackwardSet[F kernels.Float](ws *Workspace[F], dx, dwg, dw1, dw2, dy []F, daux F, x, wg, w1, w2 []F) {
	backward(ws, dx, dwg, dw1, dw2, dy, daux, x, wg, w1, w2, 0)
}

// backward is Backward with beta 1 (add to the parameter gradients) or
// 0 (set them).
func backward[F kernels.Float](ws *Workspace[F], dx, dwg, dw1, dw2, dy []F, daux F, x, wg, w1, w2 []F, beta F) {
	if !ws.valid {
		panic("moe: Backward without a successful Forward")
	}
	c := &ws.cfg
	t, e, d := ws.t, ws.e, ws.d
	if len(dx) < t*d || len(dy) < t*d || len(x) < t*d {
		panic(fmt.Sprintf("moe: Backward: dx, dy and x have %d, %d and %d elements, need %d", len(dx), len(dy), len(x), t*d))
	}
	if err := checkParams(*c, len(wg), len(w1), len(w2)); err != nil {
		panic(err)
	}
	if err := checkParams(*c, len(dwg), len(dw1), len(dw2)); err != nil {
		panic("moe: Backward gradients: " + err.Error())
	}
	if ws.dbuf == nil {
		slots := len(ws.slotTok)
		ws.dbuf, ws.dact, ws.dh = make([]F, slots*d), make([]F, slots*ws.h), make([]F, slots*ws.h1)
		ws.dgate, ws.dlogits = make([]F, slots), make([]F, ws.maxT*e)
	}
	j := &ws.job
	j.dx, j.dy, j.dw1, j.dw2, j.w1, j.w2 = dx, dy, dw1, dw2, w1, w2
	j.daux, j.beta = float64(daux), beta
	ws.run(jobExpertsBackward, e, 1)
	ws.run(jobRouterBackward, t, tokChunk)
	kernels.Gemm(true, false, d, e, t, 1, x, d, ws.dlogits, e, beta, dwg, e)
	kernels.Gemm(false, true, t, d, e, 1, ws.dlogits, e, wg, e, 1, dx, d)
	j.dx, j.dy, j.dw1, j.dw2, j.w1, j.w2 = nil, nil, nil, nil, nil, nil
}

// Stats summarises the routing of the last Forward. Load is a fresh copy.
type Stats struct {
	Tokens   int
	Load     []int  // per expert: tokens it processed in the last Forward
	PerToken [4]int // tokens that got 0, 1, 2, 3+ experts
	Dropped  int    // top-k: (token, choice) pairs dropped for capacity
	Choices  int    // top-k: all (token, choice) pairs (Tokens·K)
}

// Stats returns the statistics of the last successful Forward (zero
// before one). The Load slice is a copy, so it stays valid after later
// calls; Stats allocates it and is not meant for the hot path.
func (ws *Workspace[F]) Stats() Stats {
	s := ws.stats
	s.Load = slices.Clone(s.Load)
	return s
}

// job is every parallel pass of the layer; kind picks the pass.
type job[F kernels.Float] struct {
	ws         *Workspace[F]
	kind       jobKind
	units, per int

	x, y, wg, w1, w2 []F
	dx, dy, dw1, dw2 []F
	daux             float64
	beta             F // of the expert weight gradients
}

type jobKind int

const (
	jobRouter jobKind = iota
	jobSelect
	jobSelectCausal
	jobFillCausal
	jobPlace
	jobFill
	jobExpertsForward
	jobCombine
	jobExpertsBackward
	jobRouterBackward
)

// run runs pass kind over units units, per units to a chunk.
func (ws *Workspace[F]) run(kind jobKind, units, per int) {
	j := &ws.job
	j.kind, j.units, j.per = kind, units, per
	kernels.Parallel(ceilDiv(units, per), j)
}

// Chunk implements kernels.ParallelTask.
func (j *job[F]) Chunk(c int) {
	lo := c * j.per
	hi := min(lo+j.per, j.units)
	ws := j.ws
	switch j.kind {
	case jobRouter:
		ws.router(c, lo, hi)
	case jobSelect:
		for u := lo; u < hi; u++ {
			ws.selectTokens(u/ws.e, u%ws.e)
		}
	case jobSelectCausal:
		for g := lo; g < hi; g++ {
			ws.selectCausal(g)
		}
	case jobFillCausal:
		for g := lo; g < hi; g++ {
			ws.fillCausal(g)
		}
	case jobPlace:
		for g := lo; g < hi; g++ {
			ws.place(g)
		}
	case jobFill:
		for g := lo; g < hi; g++ {
			ws.fill(g)
		}
	case jobExpertsForward:
		for i := lo; i < hi; i++ {
			ws.expertForward(int(ws.order[i]), j.x, j.w1, j.w2)
		}
	case jobCombine:
		ws.combine(j.y, lo, hi)
	case jobExpertsBackward:
		for i := lo; i < hi; i++ {
			ws.expertBackward(int(ws.order[i]), j.dy, j.w1, j.w2, j.dw1, j.dw2, j.beta)
		}
	case jobRouterBackward:
		ws.routerBackward(c, lo, hi, j.dx, j.daux)
	}
}

// router computes probs, lse and (top-k) the choices of tokens lo:hi, and
// chunk c's partial sums.
func (ws *Workspace[F]) router(c, lo, hi int) {
	e := ws.e
	cfg := &ws.cfg
	sc := ws.scr[c*e : (c+1)*e]
	pp := ws.pPart[c*e : (c+1)*e]
	clear(pp)
	var fp []int32
	if cfg.Rule == TopK {
		fp = ws.fPart[c*e : (c+1)*e]
		clear(fp)
	}
	var zs float64
	for t := lo; t < hi; t++ {
		p := ws.probs[t*e : (t+1)*e]
		lse := kernels.SoftmaxRow(p, ws.logits[t*e:(t+1)*e])
		ws.lse[t] = lse
		zs += lse * lse
		for i, v := range p {
			pp[i] += float64(v)
		}
		if cfg.Rule != TopK {
			continue
		}
		// The K best experts, ties to the lower index, by insertion into
		// the sorted list ch; NaN ranks as -0.5, so even a NaN router
		// picks K distinct experts.
		k := cfg.K
		ch := ws.chExp[t*k : (t+1)*k]
		best := sc[:k] // values of ch
		nb := 0
		for i, v := range p {
			f := float64(v)
			if f != f {
				f = -0.5
			}
			if nb == k && f <= best[k-1] {
				continue
			}
			j := min(nb, k-1)
			for ; j > 0 && f > best[j-1]; j-- {
				best[j], ch[j] = best[j-1], ch[j-1]
			}
			best[j], ch[j] = f, int32(i)
			nb = min(nb+1, k)
		}
		var sum float64
		for _, ex := range ch {
			sum += float64(p[ex])
		}
		fp[ws.chExp[t*k]]++
		ws.gsum[t] = sum
		for r := range k {
			pr := float64(p[ws.chExp[t*k+r]])
			if k > 1 {
				pr /= sum
			}
			ws.chGate[t*k+r] = F(pr)
		}
	}
	ws.zPart[c] = zs
}

// place counts group g's top-k placements: rank by rank, members in order,
// a choice takes the next position of its expert while it is below C.
// chSlot holds the position within the group's block, or -1.
func (ws *Workspace[F]) place(g int) {
	e, k, cp := ws.e, ws.cfg.K, int32(ws.capac)
	cnt := ws.cnt[g*e : (g+1)*e]
	clear(cnt)
	for r := range k {
		for i := range ws.n {
			q := ws.member(g, i)*k + r
			ex := ws.chExp[q]
			if cnt[ex] < cp {
				ws.chSlot[q] = cnt[ex]
				cnt[ex]++
			} else {
				ws.chSlot[q] = -1
			}
		}
	}
}

// fill turns group g's positions into slots.
func (ws *Workspace[F]) fill(g int) {
	e, k := ws.e, ws.cfg.K
	for i := range ws.n {
		tok := ws.member(g, i)
		for r := range k {
			q := tok*k + r
			if ws.chSlot[q] < 0 {
				continue
			}
			ex := ws.chExp[q]
			s := ws.goff[g*e+int(ex)] + ws.chSlot[q]
			ws.chSlot[q] = s
			ws.slotTok[s] = int32(tok)
			ws.slotExp[s] = ex
			ws.slotGate[s] = ws.chGate[q]
		}
	}
}

// expertForward gathers expert ex's tokens and runs its FFN.
func (ws *Workspace[F]) expertForward(ex int, x, w1, w2 []F) {
	o, n := int(ws.expOff[ex]), int(ws.expOff[ex+1]-ws.expOff[ex])
	if n == 0 {
		return
	}
	d, h, h1 := ws.d, ws.h, ws.h1
	xg := ws.xg[o*d : (o+n)*d]
	for i, tok := range ws.slotTok[o : o+n] {
		copy(xg[i*d:(i+1)*d], x[int(tok)*d:])
	}
	hp := ws.hpre[o*h1 : (o+n)*h1]
	a := ws.act[o*h : (o+n)*h]
	ws.mm(true, false, false, n, h1, d, xg, d, w1[ex*d*h1:(ex+1)*d*h1], h1, 0, hp, h1)
	if ws.cfg.Gated {
		kernels.GLU(ws.cfg.Act, a, hp, n, h)
	} else {
		kernels.Activate(ws.cfg.Act, a, hp)
	}
	ws.mm(true, false, false, n, d, h, a, h, w2[ex*h*d:(ex+1)*h*d], d, 0, ws.out[o*d:(o+n)*d], d)
}

// mm is an expert product C = op(A)·op(B) + beta·C: kernels.GemmBF16 in
// bf16 precision, else kernels.GemmStreamB (stream, B used once, few
// rows) or kernels.Gemm.
func (ws *Workspace[F]) mm(stream, transA, transB bool, m, n, k int, a []F, lda int, b []F, ldb int, beta F, c []F, ldc int) {
	switch {
	case ws.cfg.BF16:
		kernels.GemmBF16(transA, transB, m, n, k, 1, f32(a), lda, f32(b), ldb, float32(beta), f32(c), ldc)
	case stream:
		kernels.GemmStreamB(transA, transB, m, n, k, 1, a, lda, b, ldb, beta, c, ldc)
	default:
		kernels.Gemm(transA, transB, m, n, k, 1, a, lda, b, ldb, beta, c, ldc)
	}
}

// f32 reinterprets x as []float32; F is 4 bytes wide (NewWorkspace checks
// it for BF16).
func f32[F kernels.Float](x []F) []float32 {
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(x))), len(x))
}

// combine sets y[t] = Σ gate·out over the slots of tokens lo:hi.
func (ws *Workspace[F]) combine(y []F, lo, hi int) {
	d := ws.d
	for t := lo; t < hi; t++ {
		row := y[t*d : (t+1)*d]
		slots := ws.tokSlot[ws.tokPtr[t]:ws.tokPtr[t+1]]
		if len(slots) == 0 {
			clear(row)
			continue
		}
		s := int(slots[0])
		kernels.ScaleTo(row, ws.out[s*d:(s+1)*d], ws.slotGate[s])
		for _, s := range slots[1:] {
			kernels.Axpy(row, ws.out[int(s)*d:int(s+1)*d], ws.slotGate[s])
		}
	}
}

// expertBackward runs expert ex's combine and FFN backward: dgate, dW1,
// dW2 (added to, beta 1, or set, beta 0), and dX_in into dbuf.
func (ws *Workspace[F]) expertBackward(ex int, dy, w1, w2, dw1, dw2 []F, beta F) {
	o, n := int(ws.expOff[ex]), int(ws.expOff[ex+1]-ws.expOff[ex])
	d, h, h1 := ws.d, ws.h, ws.h1
	if n == 0 {
		if beta == 0 {
			clear(dw1[ex*d*h1 : (ex+1)*d*h1])
			clear(dw2[ex*h*d : (ex+1)*h*d])
		}
		return
	}
	dO := ws.dbuf[o*d : (o+n)*d]
	for i, tok := range ws.slotTok[o : o+n] {
		s := o + i
		g := ws.slotGate[s]
		dyr := dy[int(tok)*d : int(tok+1)*d]
		out := ws.out[s*d : (s+1)*d]
		kernels.ScaleTo(dO[i*d:(i+1)*d], dyr, g)
		ws.dgate[s] = F(kernels.Dot(dyr, out))
	}
	we1, we2 := w1[ex*d*h1:(ex+1)*d*h1], w2[ex*h*d:(ex+1)*h*d]
	xg, hp, a := ws.xg[o*d:(o+n)*d], ws.hpre[o*h1:(o+n)*h1], ws.act[o*h:(o+n)*h]
	da, dh := ws.dact[o*h:(o+n)*h], ws.dh[o*h1:(o+n)*h1]
	ws.mm(true, false, true, n, h, d, dO, d, we2, d, 0, da, h)
	ws.mm(false, true, false, h, d, n, a, h, dO, d, beta, dw2[ex*h*d:(ex+1)*h*d], d)
	clear(dh)
	if ws.cfg.Gated {
		kernels.GLUBackward(ws.cfg.Act, dh, da, hp, n, h)
	} else {
		kernels.ActivateBackward(ws.cfg.Act, dh, da, hp)
	}
	ws.mm(false, true, false, d, h1, n, xg, d, dh, h1, beta, dw1[ex*d*h1:(ex+1)*d*h1], h1)
	ws.mm(true, false, true, n, d, h1, dh, h1, we1, h1, 0, dO, d) // dX_in replaces dO
}

// routerBackward adds the scattered dX_in of tokens lo:hi to dx and
// writes their dlogits.
func (ws *Workspace[F]) routerBackward(c, lo, hi int, dx []F, daux float64) {
	e, d := ws.e, ws.d
	cfg := &ws.cfg
	dp := ws.scr[c*e : (c+1)*e]
	tf := float64(ws.t)
	var balScale, zScale float64
	if cfg.Rule == TopK && cfg.AuxWeight != 0 {
		balScale = daux * cfg.AuxWeight * float64(e) / tf
	}
	if cfg.ZWeight != 0 {
		zScale = daux * cfg.ZWeight * 2 / tf
	}
	for t := lo; t < hi; t++ {
		dxr := dx[t*d : (t+1)*d]
		for _, s := range ws.tokSlot[ws.tokPtr[t]:ws.tokPtr[t+1]] {
			kernels.AddTo(dxr, ws.dbuf[int(s)*d:int(s+1)*d])
		}
		// dp = dL/dprobs[t,:].
		clear(dp)
		if cfg.Rule == ExpertChoice {
			for _, s := range ws.tokSlot[ws.tokPtr[t]:ws.tokPtr[t+1]] {
				dp[ws.slotExp[s]] += float64(ws.dgate[s])
			}
		} else {
			k := cfg.K
			if k == 1 {
				if s := ws.chSlot[t]; s >= 0 {
					dp[ws.chExp[t]] += float64(ws.dgate[s])
				}
			} else {
				// gate_r = p_r/S, S = Σ_r p_r over all K choices, dropped
				// or not: dL/dp_j = (dgate_j - Σ_r dgate_r·gate_r)/S.
				var inner float64
				for r := range k {
					if s := ws.chSlot[t*k+r]; s >= 0 {
						inner += float64(ws.dgate[s]) * float64(ws.chGate[t*k+r])
					}
				}
				inv := 1 / ws.gsum[t]
				for r := range k {
					var dg float64
					if s := ws.chSlot[t*k+r]; s >= 0 {
						dg = float64(ws.dgate[s])
					}
					dp[ws.chExp[t*k+r]] += (dg - inner) * inv
				}
			}
			if balScale != 0 {
				for i := range dp {
					dp[i] += balScale * ws.frac[i]
				}
			}
		}
		p := ws.probs[t*e : (t+1)*e]
		var dot float64
		for i, v := range p {
			dot += float64(v) * dp[i]
		}
		dl := ws.dlogits[t*e : (t+1)*e]
		zs := zScale * ws.lse[t]
		for i, v := range p {
			pv := float64(v)
			dl[i] = F(pv*(dp[i]-dot) + zs*pv)
		}
	}
}
