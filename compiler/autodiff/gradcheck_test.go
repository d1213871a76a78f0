package autodiff_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/bfcdev/bfc/compiler/autodiff"
	"github.com/bfcdev/bfc/compiler/eval"
	"github.com/bfcdev/bfc/compiler/eval/routecheck"
	"github.com/bfcdev/bfc/compiler/ir"
	"github.com/bfcdev/bfc/runtime/moe"
)

// Finite-difference settings (float64 throughout).
const (
	fdEps = 1e-6 // central-difference step
	fdRel = 1e-6 // relative tolerance
	fdAbs = 1e-8 // absolute floor
)

// fragment builds a program of a single forward op for a gradient check:
// float sources are parameters (static rows) or float inputs (T rows),
// and the op's first result is the "loss" (any shape).
type fragment struct {
	p *ir.Program
	b ir.Builder

	// kinkFree lists sources whose elements must stay away from zero, where
	// relu and sqrelu have kinks: they are drawn with |x| in [0.2, 1.2], so a
	// step of fdEps never crosses zero.
	kinkFree map[*ir.Value]bool
	// ids holds the contents of i32 inputs.
	ids map[*ir.Value][]int32
	// margin, when set, says how far the drawn sources are from changing a
	// discrete decision of the op (moe routing) after a forward run; the
	// sources are drawn again until it exceeds minMargin.
	margin func(m *eval.Machine[float64]) float64
	// check, when set, runs after the accepted draw's forward run.
	check func(t *testing.T, m *eval.Machine[float64])
}

// minMargin is the smallest margin (see fragment.margin) a moe gradient
// check accepts: a step of fdEps moves router probabilities by about
// fdEps·|x|·|wg| (well under 1e-5 here), so no routing decision flips
// between x-ε and x+ε.
const minMargin = 1e-4

func newFragment(name string) *fragment {
	f := &fragment{p: &ir.Program{Name: name}, kinkFree: map[*ir.Value]bool{}, ids: map[*ir.Value][]int32{}}
	f.b = ir.Builder{P: f.p, Layer: name}
	return f
}

func (f *fragment) param(name string, rows, cols int) *ir.Value {
	return f.p.NewParam(name, []int{rows, cols}, rows, cols, ir.Init{Kind: "normal", Std: 1}, true, f.b.Pos)
}

func (f *fragment) input(name string, cols int) *ir.Value {
	return f.p.NewValue(name, ir.KindInput, ir.Float, ir.TokenRows, cols, f.b.Pos)
}

func (f *fragment) idInput(name string, data []int32) *ir.Value {
	v := f.p.NewValue(name, ir.KindInput, ir.Int32, ir.TokenRows, 1, f.b.Pos)
	f.ids[v] = data
	return v
}

// apply appends the op under test and makes its first result the loss.
func (f *fragment) apply(t *testing.T, op ir.Op, a ir.Attrs, args ...*ir.Value) {
	t.Helper()
	outs, err := f.b.Op(op, a, "y", args...)
	if err != nil {
		t.Fatal(err)
	}
	f.p.Loss = outs[0]
	f.p.NInfer = len(f.p.Forward)
}

// sources returns the values gradients are checked for: float parameters
// and inputs.
func sources(p *ir.Program) []*ir.Value {
	var s []*ir.Value
	for _, v := range p.Values {
		if v.DType == ir.Float && (v.Kind == ir.KindParam || v.Kind == ir.KindInput) {
			s = append(s, v)
		}
	}
	return s
}

// vjpCheck differentiates the fragment and compares, for every element of
// every source, the backward pass seeded with a random R against the central
// difference of ⟨R, y⟩.
func vjpCheck(t *testing.T, f *fragment, batch, seq int, seed uint64) {
	t.Helper()
	p := f.p
	if err := autodiff.Differentiate(p); err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(p); err != nil {
		t.Fatalf("invalid program after autodiff: %v", err)
	}
	r := rand.New(rand.NewPCG(seed, 7))
	m := eval.New[float64](p, batch, seq)
	for v, ids := range f.ids {
		m.SetIDs(v, ids)
	}
	for try := 0; ; try++ {
		for _, v := range sources(p) {
			x := m.Get(v)
			for i := range x {
				if f.kinkFree[v] {
					x[i] = 0.2 + r.Float64()
					if r.IntN(2) == 0 {
						x[i] = -x[i]
					}
				} else {
					x[i] = r.NormFloat64()
				}
			}
		}
		m.Forward()
		if f.margin == nil {
			break
		}
		mg := f.margin(m)
		if mg > minMargin {
			t.Logf("routing margin %.3g after %d draws", mg, try+1)
			break
		}
		if try == 50 {
			t.Fatalf("no draw of 50 has a routing margin above %g (last %g)", minMargin, mg)
		}
	}
	if f.check != nil {
		f.check(t, m)
	}
	R := make([]float64, len(m.Get(p.Loss)))
	for i := range R {
		R[i] = r.NormFloat64()
	}
	m.ZeroGrads()
	m.Set(p.DLoss, R)
	m.Run(p.Backward)

	objective := func() float64 {
		m.Forward()
		var s float64
		for i, y := range m.Get(p.Loss) {
			s += R[i] * y
		}
		return s
	}
	for _, v := range sources(p) {
		if v.Grad == nil {
			t.Errorf("%s: no gradient", v.Name)
			continue
		}
		ana := append([]float64(nil), m.Get(v.Grad)...)
		x := m.Get(v)
		bad, worst := 0, 0.0
		for i := range x {
			orig := x[i]
			x[i] = orig + fdEps
			fp := objective()
			x[i] = orig - fdEps
			fm := objective()
			x[i] = orig
			num := (fp - fm) / (2 * fdEps)
			worst = math.Max(worst, math.Abs(num-ana[i])/tolerance(num, ana[i]))
			if !close(num, ana[i]) {
				bad++
				if bad <= 5 {
					t.Errorf("d/d%s[%d]: backward %.10g, finite difference %.10g", v.Name, i, ana[i], num)
				}
			}
		}
		if bad > 5 {
			t.Errorf("d/d%s: %d of %d elements differ", v.Name, bad, len(x))
		}
		t.Logf("d/d%s: %d elements, worst error %.2g of the tolerance", v.Name, len(x), worst)
	}
}

func tolerance(num, ana float64) float64 {
	return fdRel*math.Max(math.Abs(num), math.Abs(ana)) + fdAbs
}

func close(num, ana float64) bool { return math.Abs(num-ana) <= tolerance(num, ana) }

// randIDs returns n ids in [0, vocab), with a repeat, and every ignore-th
// replaced by -1 (ignore 0: none).
func randIDs(r *rand.Rand, n, vocab, ignore int) []int32 {
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = int32(r.IntN(vocab))
		if ignore > 0 && i%ignore == ignore-1 {
			ids[i] = -1
		}
	}
	if n > 2 && ids[0] >= 0 {
		ids[n-1] = ids[0]
	}
	return ids
}

// opCase is one gradient check: build appends the op to a fragment.
type opCase struct {
	name       string
	op         ir.Op
	batch, seq int
	build      func(t *testing.T, f *fragment, r *rand.Rand)
}

func opCases() []opCase {
	const batch, seq = 2, 4
	var cases []opCase
	add := func(name string, op ir.Op, build func(t *testing.T, f *fragment, r *rand.Rand)) {
		cases = append(cases, opCase{name: name, op: op, batch: batch, seq: seq, build: build})
	}

	// matmul: every trans variant on static operands (m=3, k=4, n=5), then the
	// shapes lowering uses: x[T,k]·W and the tied head x[T,d]·E[V,d]ᵀ.
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			add(fmt.Sprintf("matmul/transA=%v/transB=%v", ta, tb), ir.OpMatMul, func(t *testing.T, f *fragment, _ *rand.Rand) {
				m, k, n := 3, 4, 5
				ar, ac, br, bc := m, k, k, n
				if ta {
					ar, ac = k, m
				}
				if tb {
					br, bc = n, k
				}
				f.apply(t, ir.OpMatMul, ir.Attrs{TransA: ta, TransB: tb}, f.param("A", ar, ac), f.param("B", br, bc))
			})
		}
	}
	add("matmul/tokens", ir.OpMatMul, func(t *testing.T, f *fragment, _ *rand.Rand) {
		f.apply(t, ir.OpMatMul, ir.Attrs{}, f.input("x", 4), f.param("W", 4, 3))
	})
	add("matmul/tied", ir.OpMatMul, func(t *testing.T, f *fragment, _ *rand.Rand) {
		f.apply(t, ir.OpMatMul, ir.Attrs{TransB: true}, f.input("x", 4), f.param("E", 6, 4))
	})
	add("matmul/same-operand", ir.OpMatMul, func(t *testing.T, f *fragment, _ *rand.Rand) {
		a := f.param("A", 3, 4)
		f.apply(t, ir.OpMatMul, ir.Attrs{TransB: true}, a, a)
	})

	add("embed", ir.OpEmbed, func(t *testing.T, f *fragment, r *rand.Rand) {
		tokens := f.idInput("tokens", randIDs(r, batch*seq, 5, 0))
		f.apply(t, ir.OpEmbed, ir.Attrs{}, tokens, f.param("table", 5, 3))
	})
	add("addpos", ir.OpAddPos, func(t *testing.T, f *fragment, _ *rand.Rand) {
		// 6 positions, seq 4: the last two rows get no gradient.
		f.apply(t, ir.OpAddPos, ir.Attrs{}, f.input("x", 3), f.param("pos", 6, 3))
	})
	add("rmsnorm", ir.OpRMSNorm, func(t *testing.T, f *fragment, _ *rand.Rand) {
		f.apply(t, ir.OpRMSNorm, ir.Attrs{Eps: 1e-5}, f.input("x", 5), f.param("g", 1, 5))
	})
	add("rmsnorm/static", ir.OpRMSNorm, func(t *testing.T, f *fragment, _ *rand.Rand) {
		f.apply(t, ir.OpRMSNorm, ir.Attrs{Eps: 0.1}, f.param("x", 3, 4), f.param("g", 1, 4))
	})
	add("layernorm", ir.OpLayerNorm, func(t *testing.T, f *fragment, _ *rand.Rand) {
		f.apply(t, ir.OpLayerNorm, ir.Attrs{Eps: 1e-5}, f.input("x", 5), f.param("g", 1, 5), f.param("b", 1, 5))
	})
	for _, causal := range []bool{false, true} {
		add(fmt.Sprintf("attention/causal=%v", causal), ir.OpAttention, func(t *testing.T, f *fragment, _ *rand.Rand) {
			f.apply(t, ir.OpAttention, ir.Attrs{Heads: 2, HeadDim: 3, Causal: causal}, f.input("qkv", 3*2*3))
		})
	}
	for _, act := range ir.Acts {
		add("act/"+act, ir.OpAct, func(t *testing.T, f *fragment, _ *rand.Rand) {
			x := f.input("x", 6)
			f.kinkFree[x] = act == "relu" || act == "sqrelu"
			f.apply(t, ir.OpAct, ir.Attrs{Act: act}, x)
		})
		add("glu/"+act, ir.OpGLU, func(t *testing.T, f *fragment, _ *rand.Rand) {
			x := f.input("x", 8)
			f.kinkFree[x] = act == "relu" || act == "sqrelu"
			f.apply(t, ir.OpGLU, ir.Attrs{Act: act}, x)
		})
	}
	add("add", ir.OpAdd, func(t *testing.T, f *fragment, _ *rand.Rand) {
		f.apply(t, ir.OpAdd, ir.Attrs{}, f.input("a", 4), f.input("b", 4))
	})
	add("add/same-operand", ir.OpAdd, func(t *testing.T, f *fragment, _ *rand.Rand) {
		a := f.param("a", 3, 4)
		f.apply(t, ir.OpAdd, ir.Attrs{}, a, a)
	})
	add("cross_entropy", ir.OpCrossEntropy, func(t *testing.T, f *fragment, r *rand.Rand) {
		// Every third target is -1 (ignored).
		targets := f.idInput("targets", randIDs(r, batch*seq, 5, 3))
		f.apply(t, ir.OpCrossEntropy, ir.Attrs{}, f.input("logits", 5), targets)
	})
	return append(cases, moeCases()...)
}

// moeCases check the fused moe op for both routing rules, every group,
// plain and gated experts, with the router losses on, on 3 sequences of 4
// tokens and 3 experts. The capacities make expert choice take 4, 2 and 1
// tokens per expert and group (batch, sequence, position), and make top-2
// drop assignments (group batch). Both results of moe must reach the loss,
// so the fragment's loss is CE(y·W, targets) + aux, with weights large
// enough that the router losses' gradients matter.
//
// Routing is piecewise constant: the sources are drawn again until every
// gap between router probabilities whose order decides a routing choice
// (routecheck.Margin, which recomputes the probabilities independently of
// runtime/moe) exceeds minMargin, so no choice flips under ±fdEps.
func moeCases() []opCase {
	const batch, seq = 3, 4
	var cases []opCase
	type route struct {
		rule, group string
		capacity    float64
		k           int
	}
	routes := []route{
		{ir.RuleExpertChoice, "batch", 1, 0},
		{ir.RuleExpertChoice, "sequence", 1.5, 0},
		{ir.RuleExpertChoice, "position", 1, 0},
		{ir.RuleTopK, "batch", 0.75, 2},
		{ir.RuleTopK, "sequence", 1, 2},
		{ir.RuleTopK, "position", 1, 2},
		{ir.RuleTopK, "batch", 1, 1},
	}
	for _, rt := range routes {
		for _, gated := range []bool{false, true} {
			name := fmt.Sprintf("moe/%s/%s/k=%d/gated=%v", rt.rule, rt.group, rt.k, gated)
			cases = append(cases, opCase{name: name, op: ir.OpMoE, batch: batch, seq: seq, build: func(t *testing.T, f *fragment, r *rand.Rand) {
				const d, e, h, v = 4, 3, 5, 5
				a := &ir.MoEAttrs{Name: "moe", Experts: e, Hidden: h, Act: "gelu", Gated: gated,
					Rule: rt.rule, Capacity: rt.capacity, Group: rt.group, K: rt.k, ZWeight: 0.1}
				if gated {
					a.Act = "silu"
				}
				if rt.rule == ir.RuleTopK {
					a.AuxWeight = 0.5
				}
				x := f.input("x", d)
				wg := f.param("router", d, e)
				w1 := f.param("experts.up", e*d, a.UpCols())
				w2 := f.param("experts.down", e*h, d)
				outs, err := f.b.Op(ir.OpMoE, ir.Attrs{MoE: a}, "moe", x, wg, w1, w2)
				if err != nil {
					t.Fatal(err)
				}
				head := f.param("head", d, v)
				targets := f.idInput("targets", randIDs(r, batch*seq, v, 0))
				logits, err := f.b.Op(ir.OpMatMul, ir.Attrs{}, "logits", outs[0], head)
				if err != nil {
					t.Fatal(err)
				}
				ce, err := f.b.Op(ir.OpCrossEntropy, ir.Attrs{}, "ce", logits[0], targets)
				if err != nil {
					t.Fatal(err)
				}
				loss, err := f.b.Op(ir.OpAdd, ir.Attrs{}, "loss", ce[0], outs[1])
				if err != nil {
					t.Fatal(err)
				}
				f.p.Loss = loss[0]
				f.p.NInfer = len(f.p.Forward)
				f.margin = func(m *eval.Machine[float64]) float64 {
					return routecheck.Margin(a, routecheck.Probs(m.Get(x), m.Get(wg), batch*seq, d, e), batch, seq)
				}
				f.check = func(t *testing.T, m *eval.Machine[float64]) {
					st := m.RoutingStats()
					t.Logf("%s", strings.TrimSpace(moe.FormatStats(st)))
					if rt.capacity < 1 && st[0].Dropped == 0 {
						t.Errorf("top-k with capacity %v dropped nothing; the case should cover dropping", rt.capacity)
					}
				}
			}})
		}
	}
	return cases
}

// TestMoERouterLossesReachLoss: a moe whose router losses do not reach the
// loss cannot be differentiated (its backward op needs both gradients).
func TestMoERouterLossesReachLoss(t *testing.T) {
	f := newFragment("moe")
	a := &ir.MoEAttrs{Name: "moe", Experts: 2, Hidden: 3, Act: "gelu", Rule: ir.RuleTopK, K: 1, Capacity: 1, Group: "batch"}
	f.apply(t, ir.OpMoE, ir.Attrs{MoE: a}, f.input("x", 4), f.param("router", 4, 2), f.param("up", 8, 3), f.param("down", 6, 4))
	err := autodiff.Differentiate(f.p)
	if err == nil || !strings.Contains(err.Error(), "moe: both results (y and the router losses) must reach the loss") {
		t.Errorf("Differentiate: %v", err)
	}
}

func TestOpGradients(t *testing.T) {
	for i, c := range opCases() {
		t.Run(c.name, func(t *testing.T) {
			f := newFragment(c.name)
			c.build(t, f, rand.New(rand.NewPCG(uint64(i), 1)))
			vjpCheck(t, f, c.batch, c.seq, uint64(100+i))
		})
	}
}

// TestOpGradientsCoverRules fails when an op has a rule but no gradient
// check.
func TestOpGradientsCoverRules(t *testing.T) {
	checked := map[ir.Op]bool{}
	for _, c := range opCases() {
		checked[c.op] = true
	}
	for op := range autodiff.Rules {
		if !checked[op] {
			t.Errorf("%v has a gradient rule but no gradient check in opCases", op)
		}
	}
}
