package moe

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/bfcdev/bfc/runtime/kernels"
	"github.com/stretchr/testify/require"
)

var allActs = []kernels.Act{kernels.ActReLU, kernels.ActGELU, kernels.ActGELUTanh, kernels.ActSqReLU, kernels.ActSiLU}

type shapeCase struct {
	batch, seq, experts int
	c                   float64
	k                   int
	maxB, maxS          int // 0: the shape itself
}

var forwardShapes = []shapeCase{
	{2, 8, 4, 1, 2, 0, 0},
	{3, 5, 4, 2, 1, 4, 7},    // a workspace bigger than the run
	{1, 12, 3, 0.5, 2, 0, 0}, // top-k capacity-limited: C = 4 for 8 choices per expert on average
	{4, 4, 8, 2, 2, 0, 0},
	{2, 6, 6, 6, 3, 0, 0}, // expert choice with c = E: every expert takes every token
	{5, 3, 2, 1, 1, 0, 0},
	{4, 6, 5, 1.5, 4, 0, 0},
	{6, 2, 3, 0.75, 3, 0, 0}, // K = E
}

// TestForwardMatchesReference compares Forward (float64 and float32) with
// the naive reference for both rules, all groups, gated and not, every
// activation, with and without tied probabilities.
func TestForwardMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ran := 0
	for si, sh := range forwardShapes {
		for _, rf := range []struct {
			rule         Rule
			fill, causal bool
		}{{ExpertChoice, false, false}, {ExpertChoice, true, false}, {ExpertChoice, false, true}, {ExpertChoice, true, true}, {TopK, false, false}} {
			rule := rf.rule
			for _, group := range []Group{GroupBatch, GroupSequence, GroupPosition} {
				for gi, gated := range []bool{false, true} {
					for _, ties := range []bool{false, true} {
						c := Config{
							Experts: sh.experts, D: 5, Hidden: 4, Act: allActs[(si+gi)%len(allActs)], Gated: gated,
							Rule: rule, Capacity: sh.c, Group: group, K: sh.k, Fill: rf.fill, Causal: rf.causal,
							ZWeight: 0.01, MaxBatch: max(sh.batch, sh.maxB), MaxSeq: max(sh.seq, sh.maxS),
						}
						if rule == TopK {
							c.AuxWeight = 0.05
						}
						name := fmt.Sprintf("%v/fill=%v/causal=%v/%v/%+v/gated=%v/ties=%v", rule, rf.fill, rf.causal, group, sh, gated, ties)
						if err := c.Validate(); err != nil {
							// Only expert choice over too small groups may fail.
							require.Equal(t, ExpertChoice, rule, name)
							_, n := c.GroupShape(c.MaxBatch, c.MaxSeq)
							require.Less(t, c.ExpertCapacity(n), 1, name)
							require.ErrorContains(t, err, "k must be at least 1", name)
							continue
						}
						p := newParams(r, c, sh.batch, sh.seq)
						if ties {
							// Tokens 0, 1 and the last are identical (ties between
							// tokens); experts 0 and 1 have the same router column
							// (ties between experts).
							d := c.D
							copy(p.x[d:2*d], p.x[:d])
							T := sh.batch * sh.seq
							copy(p.x[(T-1)*d:], p.x[:d])
							for i := range d {
								p.wg[i*c.Experts+1] = p.wg[i*c.Experts]
							}
						}
						ref := refForward(c, p.x, p.wg, p.w1, p.w2, sh.batch, sh.seq)
						ws, y64, aux64 := forwardAs[float64](t, c, p, sh.batch, sh.seq)
						requireClose(t, ref.y, y64, 1e-12, name+" y")
						require.InDelta(t, ref.aux, aux64, 1e-12, name+" aux")
						requireAssign(t, ref.assign, ws.assignments(), 1e-14, name)
						st := ws.Stats()
						require.Equal(t, ref.load, st.Load, name)
						require.Equal(t, ref.dropped, st.Dropped, name)

						ws32, y32, aux32 := forwardAs[float32](t, c, p, sh.batch, sh.seq)
						if ties {
							// float32 breaks the same ties the same way.
							requireAssign(t, ref.assign, ws32.assignments(), 1e-6, name+" float32")
						}
						if equalRouting(ref.assign, ws32.assignments()) {
							requireClose(t, ref.y, y32, 2e-5, name+" float32 y")
						}
						require.InDelta(t, ref.aux, aux32, 1e-5*(1+math.Abs(ref.aux)), name+" float32 aux")
						ran++
					}
				}
			}
		}
	}
	require.Greater(t, ran, 360)
}

func equalRouting(a, b [][]refAssign) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if a[i][j].expert != b[i][j].expert {
				return false
			}
		}
	}
	return true
}

// TestWorkspaceReuse runs shapes of different sizes through one workspace
// and checks each against the reference.
func TestWorkspaceReuse(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, rule := range []Rule{ExpertChoice, TopK} {
		c := Config{Experts: 4, D: 6, Hidden: 5, Act: kernels.ActGELU, Rule: rule, Capacity: 2, Group: GroupSequence, K: 2, MaxBatch: 4, MaxSeq: 8}
		ws := NewWorkspace[float64](c)
		for _, sh := range [][2]int{{4, 8}, {1, 3}, {3, 8}, {4, 2}} {
			p := newParams(r, c, sh[0], sh[1])
			ref := refForward(c, p.x, p.wg, p.w1, p.w2, sh[0], sh[1])
			y := make([]float64, c.MaxBatch*c.MaxSeq*c.D) // longer than needed
			for i := range y {
				y[i] = math.NaN()
			}
			_, err := Forward(ws, y, p.x, p.wg, p.w1, p.w2, sh[0], sh[1])
			require.NoError(t, err)
			requireClose(t, ref.y, y[:len(ref.y)], 1e-12, fmt.Sprint(rule, sh))
			if len(y) > len(ref.y) {
				require.True(t, math.IsNaN(y[len(ref.y)]), "Forward writes only T·D outputs")
			}
		}
	}
}

// TestCapacityRounding pins k = floor(n·c/E) and C = ceil(K·n·c/E),
// including products that are integers only in exact arithmetic.
func TestCapacityRounding(t *testing.T) {
	ec := Config{Experts: 4, Rule: ExpertChoice, Capacity: 1}
	require.Equal(t, 2, ec.ExpertCapacity(10)) // 2.5
	require.Equal(t, 2, ec.ExpertCapacity(8))
	require.Equal(t, 0, ec.ExpertCapacity(3))
	ec.Capacity = 2
	require.Equal(t, 7, ec.ExpertCapacity(15)) // 7.5
	ec = Config{Experts: 3, Rule: ExpertChoice, Capacity: 0.1}
	require.Equal(t, 1, ec.ExpertCapacity(30)) // 30·0.1/3 rounds to 1.0000000000000002 or 0.9999…
	ec = Config{Experts: 7, Rule: ExpertChoice, Capacity: 0.7}
	require.Equal(t, 3, ec.ExpertCapacity(30))

	tk := Config{Experts: 4, Rule: TopK, K: 2, Capacity: 1}
	require.Equal(t, 5, tk.ExpertCapacity(10)) // 5
	require.Equal(t, 4, tk.ExpertCapacity(7))  // 3.5
	require.Equal(t, 1, tk.ExpertCapacity(1))  // 0.5
	tk = Config{Experts: 3, Rule: TopK, K: 1, Capacity: 0.1}
	require.Equal(t, 1, tk.ExpertCapacity(30))
	tk.Capacity = 0.3
	require.Equal(t, 3, tk.ExpertCapacity(30)) // 30·0.3/3 is 2.9999999999999996 in float64

	// Each expert takes exactly k tokens of every group.
	c := Config{Experts: 4, D: 3, Hidden: 2, Act: kernels.ActReLU, Rule: ExpertChoice, Capacity: 1.5, Group: GroupSequence, MaxBatch: 3, MaxSeq: 10}
	r := rand.New(rand.NewPCG(5, 6))
	p := newParams(r, c, 3, 10)
	ws, _, _ := forwardAs[float64](t, c, p, 3, 10)
	k := c.ExpertCapacity(10)
	require.Equal(t, 3, k) // floor(3.75)
	for e, l := range ws.Stats().Load {
		require.Equal(t, 3*k, l, "expert %d", e)
	}
	for e := range 4 {
		for b := range 3 {
			n := 0
			for tok, as := range ws.assignments() {
				for _, a := range as {
					if a.expert == e && tok/10 == b {
						n++
					}
				}
			}
			require.Equal(t, k, n, "expert %d sequence %d", e, b)
		}
	}
}

// logitParams builds a layer whose router logits equal x (D = E, wg = I).
func logitParams(c Config, logits [][]float64) params {
	r := rand.New(rand.NewPCG(7, 8))
	p := params{wg: make([]float64, c.D*c.Experts)}
	for i := range c.D {
		p.wg[i*c.Experts+i] = 1
	}
	for _, l := range logits {
		p.x = append(p.x, l...)
	}
	p.w1 = randVec(r, c.Experts*c.D*c.H1(), 1)
	p.w2 = randVec(r, c.Experts*c.Hidden*c.D, 1)
	return p
}

func softmax(l []float64) []float64 {
	m := math.Inf(-1)
	for _, v := range l {
		m = math.Max(m, v)
	}
	var s float64
	p := make([]float64, len(l))
	for i, v := range l {
		p[i] = math.Exp(v - m)
		s += p[i]
	}
	for i := range p {
		p[i] /= s
	}
	return p
}

// TestExpertChoiceSemantics: raw gates, 0 … E experts per token, ties to
// the lower token.
func TestExpertChoiceSemantics(t *testing.T) {
	c := Config{Experts: 3, D: 3, Hidden: 2, Act: kernels.ActGELU, Rule: ExpertChoice, Capacity: 1.5, Group: GroupBatch, MaxBatch: 1, MaxSeq: 6}
	// n = 6, k = floor(6·1.5/3) = 3. Tokens 2 and 3 are identical and tie
	// at the boundary of experts 0 and 1, where the lower one wins. The
	// expected picks were worked out by hand from the sorted probabilities.
	logits := [][]float64{
		{3, -2, 1},
		{3, 1, -2},
		{0, -3, 0},
		{0, -3, 0},
		{1, -2, 1},
		{0, 0, 3},
	}
	want := [][]int{{0}, {0, 1}, {0, 1, 2}, {2}, nil, {1, 2}}
	p := logitParams(c, logits)
	ws, _, _ := forwardAs[float64](t, c, p, 1, 6)
	as := ws.assignments()
	probs := make([][]float64, 6)
	for i, l := range logits {
		probs[i] = softmax(l)
	}
	counts := map[int]bool{}
	for tok := range 6 {
		var got []int
		for _, a := range as[tok] {
			got = append(got, a.expert)
			require.Equal(t, probs[tok][a.expert], a.gate, "gate is the raw probability (token %d expert %d)", tok, a.expert)
		}
		require.Equal(t, want[tok], got, "token %d", tok)
		counts[len(got)] = true
	}
	require.True(t, counts[0] && counts[1] && counts[2] && counts[3], "tokens with 0, 1, 2 and all E experts occur: %v", as)
	require.Equal(t, probs[2], probs[3])
	st := ws.Stats()
	require.Equal(t, 6, st.Tokens)
	require.Equal(t, []int{3, 3, 3}, st.Load)
	require.Equal(t, 0, st.Choices)
	sum := 0
	for i, n := range st.PerToken {
		sum += n
		if i == 0 {
			require.Positive(t, n)
		}
	}
	require.Equal(t, 6, sum)

	// Random larger case: 0, 1, 2 and 3+ experts per token all occur.
	c = Config{Experts: 8, D: 6, Hidden: 3, Act: kernels.ActReLU, Rule: ExpertChoice, Capacity: 1, Group: GroupBatch, MaxBatch: 4, MaxSeq: 32}
	r := rand.New(rand.NewPCG(9, 10))
	ws, _, _ = forwardAs[float64](t, c, newParams(r, c, 4, 32), 4, 32)
	st = ws.Stats()
	for i, n := range st.PerToken {
		require.Positive(t, n, "tokens with %d experts: %v", i, st.PerToken)
	}
}

// TestTopKPriority: every first choice is placed before any second
// choice, positions are exclusive counts in group order, overflow drops.
func TestTopKPriority(t *testing.T) {
	// E = 4, K = 2, n = 2, c = 1: C = ceil(2·2/4) = 1.
	// Token 0 prefers B then A, token 1 prefers A then C. In naive token
	// order token 0's second choice would take A's only place; with rank
	// priority token 1's first choice takes it and token 0's A is dropped.
	c := Config{Experts: 4, D: 4, Hidden: 3, Act: kernels.ActSiLU, Rule: TopK, K: 2, Capacity: 1, Group: GroupBatch, MaxBatch: 1, MaxSeq: 2}
	logits := [][]float64{{2, 3, 0, -1}, {3, -1, 2, 0}}
	p := logitParams(c, logits)
	ws, _, _ := forwardAs[float64](t, c, p, 1, 2)
	as := ws.assignments()
	p0, p1 := softmax(logits[0]), softmax(logits[1])
	require.Equal(t, []refAssign{{1, p0[1] / (p0[0] + p0[1])}}, as[0], "token 0 keeps only its first choice; its gate is still renormalised over both choices")
	require.Equal(t, []refAssign{{0, p1[0] / (p1[0] + p1[2])}, {2, p1[2] / (p1[0] + p1[2])}}, as[1])
	st := ws.Stats()
	require.Equal(t, 1, st.Dropped)
	require.Equal(t, 4, st.Choices)
	require.Equal(t, []int{1, 1, 1, 0}, st.Load)
	require.Equal(t, [4]int{0, 1, 1, 0}, st.PerToken)

	// K = 1 over position groups of a batch of 5 with every token
	// preferring expert 0: C = ceil(5·1/2) = 3, so in each position the
	// first three sequences (batch order) are placed at positions 0, 1, 2
	// and the rest are dropped.
	c = Config{Experts: 2, D: 2, Hidden: 3, Act: kernels.ActGELU, Rule: TopK, K: 1, Capacity: 1, Group: GroupPosition, MaxBatch: 5, MaxSeq: 2}
	var lg [][]float64
	for range 10 {
		lg = append(lg, []float64{1, 0})
	}
	p = logitParams(c, lg)
	ws, _, _ = forwardAs[float64](t, c, p, 5, 2)
	as = ws.assignments()
	for b := range 5 {
		for s := range 2 {
			tok := b*2 + s
			if b < 3 {
				require.Equal(t, []refAssign{{0, softmax(lg[0])[0]}}, as[tok], "K = 1 keeps the raw probability (b %d s %d)", b, s)
			} else {
				require.Empty(t, as[tok], "b %d s %d dropped", b, s)
			}
		}
	}
	// Expert 0's buffer holds, per position group, b = 0, 1, 2 in order.
	require.Equal(t, []int32{0, 2, 4, 1, 3, 5}, ws.slotTok[ws.expOff[0]:ws.expOff[1]])
	st = ws.Stats()
	require.Equal(t, 4, st.Dropped)
	require.Equal(t, 10, st.Choices)
	require.Equal(t, []int{6, 0}, st.Load)
	require.Equal(t, [4]int{4, 6, 0, 0}, st.PerToken)
}

// TestGroupCausality: expert choice over position groups never lets a later
// position change an earlier output; sequence and batch groups do.
// Top-k with K = 1 is causal over sequence groups too, but with K = 2 a
// later token's first choice can push out an earlier token's second one.
func TestGroupCausality(t *testing.T) {
	const batch, seq = 3, 6
	check := func(c Config, wantCausal bool) {
		r := rand.New(rand.NewPCG(11, uint64(c.Group)+10*uint64(c.K)))
		p := newParams(r, c, batch, seq)
		_, y0, _ := forwardAs[float64](t, c, p, batch, seq)
		leaked, changed := false, 0
		for try := range 20 {
			q := p
			q.x = append([]float64(nil), p.x...)
			for b := range batch {
				for d := range c.D {
					q.x[(b*seq+3)*c.D+d] += 3 * r.NormFloat64()
				}
			}
			_, y1, _ := forwardAs[float64](t, c, q, batch, seq)
			changed3 := false
			for b := range batch {
				for s := range seq {
					for d := range c.D {
						i := (b*seq+s)*c.D + d
						if y0[i] != y1[i] {
							if s < 3 {
								leaked = true
								require.False(t, wantCausal, "%v/%v K=%d: try %d: position %d changed by position 3", c.Rule, c.Group, c.K, try, s)
							}
							if s == 3 {
								changed3 = true
							}
						}
					}
				}
			}
			if changed3 {
				changed++
			}
		}
		require.Greater(t, changed, 10, "perturbing position 3 changes its outputs")
		require.Equal(t, !wantCausal, leaked, "%v/%v K=%d leaks", c.Rule, c.Group, c.K)
	}
	base := Config{Experts: 4, D: 4, Hidden: 3, Act: kernels.ActGELU, Capacity: 1, MaxBatch: batch, MaxSeq: seq}
	ec := base
	ec.Rule, ec.Capacity = ExpertChoice, 2
	ec.Group = GroupPosition
	check(ec, true)
	ec.Group = GroupSequence
	check(ec, false)
	ec.Group = GroupBatch
	check(ec, false)
	// Fill decides within the group too: causal by position only.
	ec.Fill = true
	ec.Group = GroupPosition
	check(ec, true)
	ec.Group = GroupSequence
	check(ec, false)
	// Causal expert choice decides on each member from the ones before:
	// causal over sequence too, with fill or without.
	ec.Causal = true
	check(ec, true)
	ec.Group = GroupPosition
	check(ec, true)
	ec.Fill = false
	check(ec, true)
	ec.Group = GroupSequence
	check(ec, true)
	ec.Causal = false
	tk := base
	tk.Rule, tk.K, tk.Capacity = TopK, 1, 0.5
	tk.Group = GroupPosition
	check(tk, true)
	tk.Group = GroupSequence
	check(tk, true)
	tk.K = 2
	check(tk, false)
}

// TestDeterministicAcrossCores: float32 results do not depend on
// GOMAXPROCS.
func TestDeterministicAcrossCores(t *testing.T) {
	c := Config{Experts: 8, D: 64, Hidden: 96, Act: kernels.ActGELU, Gated: true, Rule: TopK, K: 2, Capacity: 1.25, Group: GroupSequence, AuxWeight: 0.01, ZWeight: 0.001, MaxBatch: 4, MaxSeq: 128}
	r := rand.New(rand.NewPCG(12, 13))
	p := newParams(r, c, 4, 128)
	dy := conv[float32](randVec(r, 4*128*c.D, 1))
	run := func() ([]float32, []float32, float64) {
		ws := NewWorkspace[float32](c)
		y := make([]float32, len(dy))
		x, wg, w1, w2 := conv[float32](p.x), conv[float32](p.wg), conv[float32](p.w1), conv[float32](p.w2)
		aux, err := Forward(ws, y, x, wg, w1, w2, 4, 128)
		require.NoError(t, err)
		dx, dwg, dw1, dw2 := make([]float32, len(x)), make([]float32, len(wg)), make([]float32, len(w1)), make([]float32, len(w2))
		Backward(ws, dx, dwg, dw1, dw2, dy, 1, x, wg, w1, w2)
		return y, append(append(append(dx, dwg...), dw1...), dw2...), aux
	}
	y2, g2, a2 := run()
	old := runtime.GOMAXPROCS(1)
	y1, g1, a1 := run()
	runtime.GOMAXPROCS(old)
	require.Equal(t, y1, y2)
	require.Equal(t, g1, g2)
	require.Equal(t, a1, a2)
}

// TestFillGivesEveryTokenAnExpert: with Fill, the tokens plain expert
// choice leaves out each get exactly their top-1 expert, and nothing else
// changes.
func TestFillGivesEveryTokenAnExpert(t *testing.T) {
	const batch, seq = 8, 6
	c := Config{Experts: 4, D: 6, Hidden: 5, Act: kernels.ActSqReLU, Rule: ExpertChoice, Capacity: 1, Group: GroupPosition, MaxBatch: batch, MaxSeq: seq}
	p := newParams(rand.New(rand.NewPCG(21, 22)), c, batch, seq)
	plain, _, _ := forwardAs[float64](t, c, p, batch, seq)
	c.Fill = true
	filled, _, _ := forwardAs[float64](t, c, p, batch, seq)
	ps, fs := plain.Stats(), filled.Stats()
	require.Positive(t, ps.PerToken[0], "plain expert choice leaves some tokens out")
	require.Zero(t, fs.PerToken[0])
	pa, fa := plain.assignments(), filled.assignments()
	left := 0
	for tok := range batch * seq {
		if len(pa[tok]) > 0 {
			require.Equal(t, pa[tok], fa[tok], "token %d was taken already", tok)
			continue
		}
		left++
		require.Len(t, fa[tok], 1, "token %d", tok)
		probs := filled.probs[tok*c.Experts : (tok+1)*c.Experts]
		best := 0
		for e, v := range probs {
			if v > probs[best] {
				best = e
			}
		}
		require.Equal(t, best, fa[tok][0].expert, "token %d", tok)
		require.Equal(t, probs[best], fa[tok][0].gate, "token %d: the gate is the raw probability", tok)
	}
	sum := func(l []int) (n int) {
		for _, v := range l {
			n += v
		}
		return n
	}
	require.Equal(t, ps.PerToken[0], left)
	require.Equal(t, sum(ps.Load)+left, sum(fs.Load))
}

// TestBF16ExpertsMatchReference runs the experts in bf16 precision against
// the float64 reference with bfloat16 operands in the expert products, on
// whatever bf16 implementation the CPU has, and checks that the rounding
// is visible: the float32 reference is ten times further away. Errors are
// relative norms: an activation computed in float32 may round to the
// neighbouring bfloat16 of the reference's, which moves single outputs by
// up to 1e-4.
func TestBF16ExpertsMatchReference(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, rule := range []Rule{ExpertChoice, TopK} {
		for _, gated := range []bool{false, true} {
			c := Config{
				Experts: 4, D: 40, Hidden: 36, Act: kernels.ActGELU, Gated: gated,
				Rule: rule, Capacity: 2, Group: GroupBatch, K: 2, BF16: true,
				MaxBatch: 3, MaxSeq: 16,
			}
			p := newParams(r, c, 3, 16)
			ws, got, _ := forwardAs[float32](t, c, p, 3, 16)
			want := refForward(c, p.x, p.wg, p.w1, p.w2, 3, 16)
			name := fmt.Sprintf("%v gated=%v on %s", rule, gated, kernels.BF16Impl())
			requireAssign(t, want.assign, ws.assignments(), 1e-5, name)
			requireClose(t, want.y, got, 1e-3, name)
			e := relErr(want.y, got)
			require.Less(t, e, 2e-5, name)
			c.BF16 = false
			exact := refForward(c, p.x, p.wg, p.w1, p.w2, 3, 16)
			require.Greater(t, relErr(exact.y, got), 10*e, "%s: bf16 products look like float32 ones", name)
		}
	}
	require.Panics(t, func() {
		NewWorkspace[float64](Config{Experts: 2, D: 2, Hidden: 2, Rule: TopK, K: 1, Capacity: 1, BF16: true, MaxBatch: 1, MaxSeq: 1})
	})
}
