package moe

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/bfcdev/bfc/runtime/kernels"
	"github.com/stretchr/testify/require"
)

// minMargin is the smallest gap allowed between any two probabilities
// whose order decides the routing. A central difference with ε = 1e-6
// moves a probability by far less (|∂p/∂θ|·ε with inputs of order 1), so
// no selection, rank, placement or first choice can flip between the two
// evaluations. Inputs are re-drawn until every margin exceeds it, and each
// evaluation also checks that the routing did not change.
const (
	minMargin = 1e-4
	fdEps     = 1e-6
)

// routingMargin returns the smallest decision gap of the reference
// routing: for expert choice, per group and expert, the k-th best
// probability minus the (k+1)-th; for top-k, per token, the gaps between
// consecutive ranks 0 … K (which decide the chosen set, the rank order
// that placement follows, and the first choice counted in f_e).
func routingMargin(c Config, probs [][]float64, batch, seq int) float64 {
	m := math.Inf(1)
	if c.Rule == ExpertChoice && c.Causal {
		// Every pair of a group's probabilities is compared.
		for _, mem := range refGroups(c.Group, batch, seq) {
			for e := range c.Experts {
				for i, t := range mem {
					for _, u := range mem[:i] {
						m = math.Min(m, math.Abs(probs[t][e]-probs[u][e]))
					}
				}
			}
		}
	}
	if c.Rule == ExpertChoice {
		for _, mem := range refGroups(c.Group, batch, seq) {
			k := c.ExpertCapacity(len(mem))
			if k >= len(mem) {
				continue
			}
			for e := range c.Experts {
				v := make([]float64, len(mem))
				for i, t := range mem {
					v[i] = probs[t][e]
				}
				sort.Sort(sort.Reverse(sort.Float64Slice(v)))
				m = math.Min(m, v[k-1]-v[k])
			}
		}
		if c.Fill { // the top-1 expert of a token left out
			for _, p := range probs {
				v := append([]float64(nil), p...)
				sort.Sort(sort.Reverse(sort.Float64Slice(v)))
				m = math.Min(m, v[0]-v[1])
			}
		}
		return m
	}
	for _, p := range probs {
		v := append([]float64(nil), p...)
		sort.Sort(sort.Reverse(sort.Float64Slice(v)))
		for r := 0; r < c.K && r+1 < len(v); r++ {
			m = math.Min(m, v[r]-v[r+1])
		}
	}
	return m
}

// gradCase is one layer with inputs whose routing is safe to
// differentiate numerically.
type gradCase struct {
	c          Config
	batch, seq int
	p          params
	dy         []float64
	daux       float64
	routing    [][]refAssign
}

func newGradCase(t *testing.T, c Config, batch, seq int, seed uint64) *gradCase {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 99))
	for try := range 200 {
		p := newParams(r, c, batch, seq)
		for i := range p.wg {
			p.wg[i] *= 2 // sharper router: larger gradients through the gates
		}
		ref := refForward(c, p.x, p.wg, p.w1, p.w2, batch, seq)
		if routingMargin(c, ref.probs, batch, seq) <= minMargin {
			continue
		}
		ws, _, _ := forwardAs[float64](t, c, p, batch, seq)
		if !c.Gated && c.Act == kernels.ActReLU {
			// ReLU's kink must not lie within ε of any pre-activation.
			ok := true
			for _, v := range ws.hpre[:ws.slots*ws.h1] {
				ok = ok && math.Abs(v) > minMargin
			}
			if !ok {
				continue
			}
		}
		t.Logf("%v: inputs drawn after %d re-draws", c.Rule, try)
		return &gradCase{c: c, batch: batch, seq: seq, p: p, dy: randVec(r, batch*seq*c.D, 1), daux: 0.7, routing: ws.assignments()}
	}
	t.Fatalf("no inputs with routing margins above %g", minMargin)
	return nil
}

// loss is Σ y·dy + daux·aux; it also reports whether the routing matches
// the base point's.
func (g *gradCase) loss(t *testing.T, p params) (float64, bool) {
	ws, y, aux := forwardAs[float64](t, g.c, p, g.batch, g.seq)
	var l float64
	for i, v := range y {
		l += v * g.dy[i]
	}
	return l + g.daux*aux, equalRouting(g.routing, ws.assignments())
}

// grads runs Backward into gradients that start at random values, and
// returns what it added.
func (g *gradCase) grads(t *testing.T) params {
	ws := NewWorkspace[float64](g.c)
	y := make([]float64, len(g.dy))
	_, err := Forward(ws, y, g.p.x, g.p.wg, g.p.w1, g.p.w2, g.batch, g.seq)
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(1, 1))
	start := params{randVec(r, len(g.p.x), 1), randVec(r, len(g.p.wg), 1), randVec(r, len(g.p.w1), 1), randVec(r, len(g.p.w2), 1)}
	d := params{append([]float64(nil), start.x...), append([]float64(nil), start.wg...), append([]float64(nil), start.w1...), append([]float64(nil), start.w2...)}
	Backward(ws, d.x, d.wg, d.w1, d.w2, g.dy, g.daux, g.p.x, g.p.wg, g.p.w1, g.p.w2)
	for _, pr := range [][2][]float64{{d.x, start.x}, {d.wg, start.wg}, {d.w1, start.w1}, {d.w2, start.w2}} {
		for i := range pr[0] {
			pr[0][i] -= pr[1][i]
		}
	}
	return d
}

func clone(p params) params {
	return params{append([]float64(nil), p.x...), append([]float64(nil), p.wg...), append([]float64(nil), p.w1...), append([]float64(nil), p.w2...)}
}

func pick(p *params, name string) []float64 {
	switch name {
	case "x":
		return p.x
	case "wg":
		return p.wg
	case "w1":
		return p.w1
	}
	return p.w2
}

// checkCoords compares every coordinate of one input's gradient with a
// central difference.
func (g *gradCase) checkCoords(t *testing.T, name string, grad []float64) {
	for i := range grad {
		q := clone(g.p)
		v := pick(&q, name)
		v[i] += fdEps
		lp, okp := g.loss(t, q)
		v[i] -= 2 * fdEps
		lm, okm := g.loss(t, q)
		require.True(t, okp && okm, "%s[%d]: routing changed under ±ε", name, i)
		num := (lp - lm) / (2 * fdEps)
		require.InDelta(t, num, grad[i], 1e-6*(1+math.Abs(num)), "%s[%d]: analytic %.10g numeric %.10g", name, i, grad[i], num)
	}
}

// checkDirection compares the whole layer's gradient along a random
// direction of every input at once.
func (g *gradCase) checkDirection(t *testing.T, d params) {
	r := rand.New(rand.NewPCG(2, 2))
	dir := params{randVec(r, len(g.p.x), 1), randVec(r, len(g.p.wg), 1), randVec(r, len(g.p.w1), 1), randVec(r, len(g.p.w2), 1)}
	step := func(s float64) params {
		q := clone(g.p)
		for _, name := range []string{"x", "wg", "w1", "w2"} {
			v, u := pick(&q, name), pick(&dir, name)
			for i := range v {
				v[i] += s * u[i]
			}
		}
		return q
	}
	lp, okp := g.loss(t, step(fdEps))
	lm, okm := g.loss(t, step(-fdEps))
	require.True(t, okp && okm, "routing changed along the direction")
	num := (lp - lm) / (2 * fdEps)
	var ana float64
	for _, name := range []string{"x", "wg", "w1", "w2"} {
		for i, v := range pick(&d, name) {
			ana += v * pick(&dir, name)[i]
		}
	}
	require.InDelta(t, num, ana, 1e-6*(1+math.Abs(num)), "whole layer: analytic %.10g numeric %.10g", ana, num)
}

// TestBackwardFiniteDifferences checks Backward (float64) against central
// differences for the router (wg), the experts (w1, w2), the input x and
// the whole layer, for both rules, gated and not, with the auxiliary and
// z-losses on.
func TestBackwardFiniteDifferences(t *testing.T) {
	type tc struct {
		rule   Rule
		group  Group
		gated  bool
		act    kernels.Act
		k      int
		c      float64
		fill   bool
		causal bool
	}
	cases := []tc{
		{ExpertChoice, GroupSequence, false, kernels.ActGELU, 0, 2, false, true},
		{ExpertChoice, GroupPosition, true, kernels.ActSqReLU, 0, 2, true, true},
		{ExpertChoice, GroupSequence, true, kernels.ActSqReLU, 0, 1, true, false},
		{ExpertChoice, GroupBatch, false, kernels.ActGELU, 0, 0.5, true, false},
		{ExpertChoice, GroupBatch, false, kernels.ActGELU, 0, 1.5, false, false},
		{ExpertChoice, GroupSequence, true, kernels.ActSiLU, 0, 2, false, false},
		{ExpertChoice, GroupPosition, false, kernels.ActReLU, 0, 2, false, false},
		{ExpertChoice, GroupBatch, true, kernels.ActGELUTanh, 0, 1, false, false},
		{TopK, GroupBatch, false, kernels.ActGELU, 2, 0.75, false, false}, // capacity-limited: drops
		{TopK, GroupSequence, true, kernels.ActSiLU, 2, 1, false, false},
		{TopK, GroupPosition, false, kernels.ActSqReLU, 1, 1, false, false}, // Switch: raw gate
		{TopK, GroupBatch, true, kernels.ActGELU, 3, 0.5, false, false},     // heavy dropping, K = 3
		{TopK, GroupSequence, false, kernels.ActReLU, 2, 2, false, false},   // no drops
	}
	drops := 0
	for i, cs := range cases {
		c := Config{Experts: 4, D: 5, Hidden: 4, Act: cs.act, Gated: cs.gated, Rule: cs.rule, Capacity: cs.c, Group: cs.group, K: cs.k, Fill: cs.fill, Causal: cs.causal,
			ZWeight: 0.05, MaxBatch: 2, MaxSeq: 5}
		if cs.rule == TopK {
			c.AuxWeight = 0.1
		}
		name := fmt.Sprintf("%v/%v/gated=%v/%v/K=%d/c=%g/fill=%v/causal=%v", cs.rule, cs.group, cs.gated, cs.act, cs.k, cs.c, cs.fill, cs.causal)
		t.Run(name, func(t *testing.T) {
			g := newGradCase(t, c, 2, 5, uint64(i+20))
			d := g.grads(t)
			ws, _, _ := forwardAs[float64](t, c, g.p, 2, 5)
			drops += ws.Stats().Dropped
			t.Run("router", func(t *testing.T) { g.checkCoords(t, "wg", d.wg) })
			t.Run("experts", func(t *testing.T) {
				g.checkCoords(t, "w1", d.w1)
				g.checkCoords(t, "w2", d.w2)
			})
			t.Run("x", func(t *testing.T) { g.checkCoords(t, "x", d.x) })
			t.Run("layer", func(t *testing.T) { g.checkDirection(t, d) })
		})
	}
	require.Positive(t, drops, "some top-k case drops choices, so the gradient through a dropped choice's normaliser is covered")
}

// TestAuxGradientsAlone isolates the auxiliary losses: with dy = 0 the
// only gradient is that of daux·aux, which reaches wg and x only.
func TestAuxGradientsAlone(t *testing.T) {
	for _, rule := range []Rule{ExpertChoice, TopK} {
		c := Config{Experts: 4, D: 5, Hidden: 3, Act: kernels.ActGELU, Rule: rule, Capacity: 1, Group: GroupBatch, K: 2, ZWeight: 0.3, MaxBatch: 2, MaxSeq: 5}
		if rule == TopK {
			c.AuxWeight = 0.5
		}
		g := newGradCase(t, c, 2, 5, 77)
		clear(g.dy)
		g.daux = 1.3
		d := g.grads(t)
		for _, v := range append(d.w1, d.w2...) {
			require.Zero(t, v)
		}
		var norm float64
		for _, v := range d.wg {
			norm += v * v
		}
		require.Greater(t, norm, 1e-6)
		g.checkCoords(t, "wg", d.wg)
		g.checkCoords(t, "x", d.x)
	}
}

// TestFloat32MatchesFloat64 runs the same layer in both precisions.
func TestFloat32MatchesFloat64(t *testing.T) {
	for _, rule := range []Rule{ExpertChoice, TopK} {
		for _, gated := range []bool{false, true} {
			c := Config{Experts: 6, D: 24, Hidden: 16, Act: kernels.ActGELU, Gated: gated, Rule: rule, Capacity: 1.25, Group: GroupSequence, K: 2,
				ZWeight: 0.01, MaxBatch: 3, MaxSeq: 16}
			if rule == TopK {
				c.AuxWeight = 0.01
			}
			g := newGradCase(t, c, 3, 16, 5)
			want := g.grads(t)
			_, y64, aux64 := forwardAs[float64](t, c, g.p, 3, 16)

			ws := NewWorkspace[float32](c)
			y := make([]float32, len(g.dy))
			x, wg, w1, w2 := conv[float32](g.p.x), conv[float32](g.p.wg), conv[float32](g.p.w1), conv[float32](g.p.w2)
			aux, err := Forward(ws, y, x, wg, w1, w2, 3, 16)
			require.NoError(t, err)
			require.True(t, equalRouting(g.routing, ws.assignments()), "same routing in float32")
			dx, dwg, dw1, dw2 := make([]float32, len(x)), make([]float32, len(wg)), make([]float32, len(w1)), make([]float32, len(w2))
			Backward(ws, dx, dwg, dw1, dw2, conv[float32](g.dy), float32(g.daux), x, wg, w1, w2)
			name := fmt.Sprintf("%v gated=%v", rule, gated)
			requireClose(t, y64, to64(y), 1e-5, name+" y")
			require.InDelta(t, aux64, aux, 1e-6, name)
			requireClose(t, want.x, to64(dx), 1e-4, name+" dx")
			requireClose(t, want.wg, to64(dwg), 1e-4, name+" dwg")
			requireClose(t, want.w1, to64(dw1), 1e-4, name+" dw1")
			requireClose(t, want.w2, to64(dw2), 1e-4, name+" dw2")
		}
	}
}

func to64[F kernels.Float](v []F) []float64 {
	o := make([]float64, len(v))
	for i, x := range v {
		o[i] = float64(x)
	}
	return o
}

// TestBackwardAccumulates: two Backward calls after one Forward add twice.
func TestBackwardAccumulates(t *testing.T) {
	c := Config{Experts: 3, D: 4, Hidden: 3, Act: kernels.ActSiLU, Gated: true, Rule: TopK, K: 2, Capacity: 1, Group: GroupBatch, AuxWeight: 0.1, ZWeight: 0.1, MaxBatch: 2, MaxSeq: 4}
	r := rand.New(rand.NewPCG(4, 4))
	p := newParams(r, c, 2, 4)
	dy := randVec(r, 8*c.D, 1)
	ws := NewWorkspace[float64](c)
	_, err := Forward(ws, make([]float64, len(dy)), p.x, p.wg, p.w1, p.w2, 2, 4)
	require.NoError(t, err)
	one := params{make([]float64, len(p.x)), make([]float64, len(p.wg)), make([]float64, len(p.w1)), make([]float64, len(p.w2))}
	two := clone(one)
	Backward(ws, one.x, one.wg, one.w1, one.w2, dy, 1, p.x, p.wg, p.w1, p.w2)
	Backward(ws, two.x, two.wg, two.w1, two.w2, dy, 1, p.x, p.wg, p.w1, p.w2)
	Backward(ws, two.x, two.wg, two.w1, two.w2, dy, 1, p.x, p.wg, p.w1, p.w2)
	for _, name := range []string{"x", "wg", "w1", "w2"} {
		a, b := pick(&one, name), pick(&two, name)
		for i := range a {
			require.InDelta(t, 2*a[i], b[i], 1e-12, name)
		}
	}
}

// TestBackwardSet: BackwardSet over gradients holding NaN gives what
// Backward adds to zeroed ones, experts without tokens included, and
// still adds to dx.
func TestBackwardSet(t *testing.T) {
	for _, rule := range []Rule{ExpertChoice, TopK} {
		// Top-1 of 2 tokens over 8 experts leaves at least 6 experts idle;
		// expert choice gives every expert a token.
		seq := 2
		c := Config{Experts: 8, D: 4, Hidden: 3, Act: kernels.ActGELU, Rule: rule, K: 1, Capacity: 1, Group: GroupBatch, MaxBatch: 1, MaxSeq: seq}
		if rule == ExpertChoice {
			seq, c.Capacity, c.MaxSeq = 4, 2, 4
		}
		r := rand.New(rand.NewPCG(7, 7))
		p := newParams(r, c, 1, seq)
		dy := randVec(r, seq*c.D, 1)
		ws := NewWorkspace[float64](c)
		_, err := Forward(ws, make([]float64, len(dy)), p.x, p.wg, p.w1, p.w2, 1, seq)
		require.NoError(t, err)
		if rule == TopK {
			require.Less(t, count(ws.Stats().Load, 0), len(ws.Stats().Load), "some expert has tokens")
			require.Positive(t, count(ws.Stats().Load, 0), "some expert has no tokens")
		}
		dx0 := randVec(r, len(p.x), 1)
		add := params{clone1(dx0), make([]float64, len(p.wg)), make([]float64, len(p.w1)), make([]float64, len(p.w2))}
		set := params{clone1(dx0), nans(len(p.wg)), nans(len(p.w1)), nans(len(p.w2))}
		Backward(ws, add.x, add.wg, add.w1, add.w2, dy, 1, p.x, p.wg, p.w1, p.w2)
		BackwardSet(ws, set.x, set.wg, set.w1, set.w2, dy, 1, p.x, p.wg, p.w1, p.w2)
		for _, name := range []string{"x", "wg", "w1", "w2"} {
			require.Equal(t, pick(&add, name), pick(&set, name), "%v %s", rule, name)
		}
	}
}

func count(v []int, x int) int {
	n := 0
	for _, y := range v {
		if y == x {
			n++
		}
	}
	return n
}

func clone1(v []float64) []float64 { return append([]float64(nil), v...) }

func nans(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = math.NaN()
	}
	return v
}

// TestNoAllocs: a warm Forward + Backward allocates nothing.
func TestNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts mean nothing under -race")
	}
	for i, rule := range []Rule{ExpertChoice, TopK, ExpertChoice} {
		c := Config{Experts: 8, D: 32, Hidden: 48, Act: kernels.ActGELU, Gated: true, Rule: rule, K: 2, Capacity: 1.5, Group: GroupSequence, ZWeight: 0.01, MaxBatch: 4, MaxSeq: 64}
		c.Causal, c.Fill = i == 2, i == 2
		if rule == TopK {
			c.AuxWeight = 0.01
		}
		r := rand.New(rand.NewPCG(6, 6))
		p := newParams(r, c, 4, 64)
		x, wg, w1, w2 := conv[float32](p.x), conv[float32](p.wg), conv[float32](p.w1), conv[float32](p.w2)
		y, dy := make([]float32, len(x)), conv[float32](randVec(r, len(x), 1))
		dx, dwg, dw1, dw2 := make([]float32, len(x)), make([]float32, len(wg)), make([]float32, len(w1)), make([]float32, len(w2))
		ws := NewWorkspace[float32](c)
		step := func() {
			if _, err := Forward(ws, y, x, wg, w1, w2, 4, 64); err != nil {
				panic(err)
			}
			Backward(ws, dx, dwg, dw1, dw2, dy, 1, x, wg, w1, w2)
		}
		step()
		require.Zero(t, testing.AllocsPerRun(20, step), "%v", rule)
	}
}

// TestBF16Backward checks that the layer's gradients in bf16 precision
// stay within bfloat16's reach of the exact ones (relative error norms
// under 2 %, routing unchanged), and that bf16 is in use (over 1e-4).
func TestBF16Backward(t *testing.T) {
	for _, rule := range []Rule{ExpertChoice, TopK} {
		c := Config{Experts: 6, D: 48, Hidden: 40, Act: kernels.ActGELU, Rule: rule, Capacity: 1.25, Group: GroupSequence, K: 2,
			ZWeight: 0.01, MaxBatch: 3, MaxSeq: 16}
		g := newGradCase(t, c, 3, 16, 7)
		want := g.grads(t)
		c.BF16 = true
		ws := NewWorkspace[float32](c)
		y := make([]float32, len(g.dy))
		x, wg, w1, w2 := conv[float32](g.p.x), conv[float32](g.p.wg), conv[float32](g.p.w1), conv[float32](g.p.w2)
		_, err := Forward(ws, y, x, wg, w1, w2, 3, 16)
		require.NoError(t, err)
		require.True(t, equalRouting(g.routing, ws.assignments()), "%v: same routing in bf16", rule)
		dx, dwg, dw1, dw2 := make([]float32, len(x)), make([]float32, len(wg)), make([]float32, len(w1)), make([]float32, len(w2))
		Backward(ws, dx, dwg, dw1, dw2, conv[float32](g.dy), float32(g.daux), x, wg, w1, w2)
		for _, gr := range []struct {
			name      string
			want, got []float64
		}{{"dx", want.x, to64(dx)}, {"dwg", want.wg, to64(dwg)}, {"dw1", want.w1, to64(dw1)}, {"dw2", want.w2, to64(dw2)}} {
			e := relErr(gr.want, gr.got)
			require.Less(t, e, 2e-2, "%v %s", rule, gr.name)
			require.Greater(t, e, 1e-4, "%v %s: no sign of bfloat16", rule, gr.name)
		}
	}
}
