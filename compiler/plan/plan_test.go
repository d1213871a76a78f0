package plan_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bfcdev/bfc/compiler"
	"github.com/bfcdev/bfc/compiler/autodiff"
	"github.com/bfcdev/bfc/compiler/check"
	"github.com/bfcdev/bfc/compiler/ir"
	"github.com/bfcdev/bfc/compiler/lower"
	"github.com/bfcdev/bfc/compiler/plan"
	"github.com/bfcdev/bfc/compiler/plan/plantest"
)

func programs(t *testing.T) map[string]*ir.Program {
	t.Helper()
	noBack := plantest.Tiny()
	noBack.NoBackward = true
	untied := plantest.Stack(2)
	untied.Tied = false
	out := map[string]*ir.Program{}
	for name, c := range map[string]plantest.Config{
		"tiny": plantest.Tiny(), "stack1": plantest.Stack(1), "stack4": plantest.Stack(4),
		"untied": untied, "nobackward": noBack,
	} {
		p, err := plantest.Build(c)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = p
	}
	// Programs from the real pipeline, forward and backward.
	progs, diags := compiler.CompileSource(compiler.Options{}, "plan.bf", []byte(pipelineSrc))
	if len(diags) > 0 {
		t.Fatalf("plan.bf: %v", diags)
	}
	for _, p := range progs {
		out["pipeline/"+p.Name] = p
	}
	out["moe"] = moeProgram(t)
	return out
}

// moeProgram lowers and differentiates a hand-built model with two moe
// layers (expert choice and gated top-2) between attention layers.
func moeProgram(t *testing.T) *ir.Program {
	t.Helper()
	const d = 8
	m := &check.Model{Name: "Sparse", Vocab: 9, D: d, MaxBatch: 2, MaxSeq: 5, PosEmbed: "learned",
		FinalNorm: "rms", NormEps: 1e-5, Loss: "cross_entropy"}
	attn := func(i int) *check.Layer {
		return &check.Layer{Name: fmt.Sprintf("blocks.%d.attn", i), Block: "B", Instance: i, Sub: "attn", Kind: "attention",
			Norm: "rms", Placement: "pre", Eps: 1e-5, Residual: true, In: d, Out: d, Heads: 2, HeadDim: 4, Causal: true}
	}
	moe := func(i int, act string, r check.Route) *check.Layer {
		return &check.Layer{Name: fmt.Sprintf("blocks.%d.moe", i), Block: "B", Instance: i, Sub: "moe", Kind: "moe",
			Norm: "rms", Placement: "pre", Eps: 1e-5, Residual: true, In: d, Out: d, Hidden: 6, Act: act, Experts: 4, Route: r}
	}
	m.Layers = []*check.Layer{
		attn(0), moe(0, "gelu", check.Route{Rule: "expert_choice", Capacity: 2, Group: "position"}),
		attn(1), moe(1, "swiglu", check.Route{Rule: "top_k", K: 2, Capacity: 1, Group: "batch", AuxWeight: 0.01, ZWeight: 1e-3}),
	}
	p, err := lower.Lower(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := autodiff.Differentiate(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestMoE: the moe ops' values are planned like any other (their routing
// state lives in workspaces): the router losses get slots in every arena
// that computes them, and the first write of a moe_grad into a temporary
// gradient is zeroed.
func TestMoE(t *testing.T) {
	p := moeProgram(t)
	l, err := plan.Plan(p)
	if err != nil {
		t.Fatal(err)
	}
	nf := len(p.Forward)
	grads := 0
	for i, in := range p.Backward {
		if in.Op != ir.OpMoEGrad {
			continue
		}
		grads++
		if !plan.Accumulates(in) {
			t.Error("moe_grad does not accumulate")
		}
		dx := in.Outs[0]
		zeroed := false
		for j := nf; j <= nf+i; j++ {
			for _, v := range l.Train.Zero[j] {
				zeroed = zeroed || v == dx
			}
		}
		written := false
		for _, prev := range p.Backward[:i] {
			for _, o := range prev.Outs {
				written = written || o == dx
			}
		}
		if !zeroed && !written {
			t.Errorf("moe_grad's dx %s is neither zeroed nor written before", dx.Name)
		}
	}
	if grads != 2 {
		t.Errorf("%d moe_grad, want 2", grads)
	}
	for _, in := range p.MoE() {
		aux := in.Outs[1]
		if !l.Train.Has(aux) || !l.Eval.Has(aux) || !l.Infer.Has(aux) {
			t.Errorf("router losses %s: slots train %v eval %v infer %v", aux.Name, l.Train.Has(aux), l.Eval.Has(aux), l.Infer.Has(aux))
		}
	}
}

const pipelineSrc = `
import "std/transformer.bf"

block Post(d: dim) {
    norm layer post
    attn = attention(heads: 2, head_dim: 4, causal: false)
    ffn = ffn(hidden: 12, act: reglu)
}

model Dense {
    dim vocab = 13
    dim d = 8
    input(batch: 2, seq: 6)
    embed(vocab: vocab, dim: d, pos: learned)
    repeat 3 GatedTransformer(d: d, heads: 2)
    norm rms
    head tied
    loss cross_entropy
}

model Mixed {
    dim vocab = 7
    dim d = 8
    input(batch: 3, seq: 4)
    embed(vocab: vocab, dim: d, pos: none)
    repeat 2 [Transformer(d: d, heads: 2, act: sqrelu), Post(d: d)]
    norm layer
    head untied
    loss cross_entropy
}
`

// sequence is an arena's instruction list with the point at which DLoss is
// seeded (-1: never) and the values that must survive to the end of the
// forward section (keepTo).
type sequence struct {
	name   string
	arena  *plan.Arena
	instrs []*ir.Instr
	seedAt int
	keep   []*ir.Value
	keepTo int
}

func sequences(p *ir.Program, l *plan.Layout) []sequence {
	train := append(append([]*ir.Instr(nil), p.Forward...), p.Backward...)
	seedAt := -1
	if len(p.Backward) > 0 {
		seedAt = len(p.Forward)
	}
	nf := len(p.Forward)
	return []sequence{
		{"train", &l.Train, train, seedAt, []*ir.Value{p.Logits, p.Loss}, nf - 1},
		{"eval", &l.Eval, p.Forward, -1, []*ir.Value{p.Logits, p.Loss}, nf - 1},
		{"infer", &l.Infer, p.Forward[:p.NInfer], -1, []*ir.Value{p.Logits}, p.NInfer - 1},
	}
}

func accumulates(in *ir.Instr) bool { return in.Op.IsBackward() || in.Attrs.Acc }

// TestNoLiveOverlap checks, by brute force over every pair of temporaries,
// that values whose live ranges intersect occupy disjoint elements, and
// that every slot is aligned and inside its arena.
func TestNoLiveOverlap(t *testing.T) {
	for name, p := range programs(t) {
		l, err := plan.Plan(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, e := range overlaps(p, l) {
			t.Errorf("%s: %s", name, e)
		}
	}
}

// TestOverlapCheck makes sure the checker above catches a broken layout.
func TestOverlapCheck(t *testing.T) {
	p := plantest.MustBuild(plantest.Tiny())
	l, err := plan.Plan(p)
	if err != nil {
		t.Fatal(err)
	}
	// Qkv and the attention output are live together.
	in := p.Forward[4]
	if in.Op != ir.OpAttention {
		t.Fatalf("forward[4] is %v", in.Op)
	}
	l.Infer.Off[in.Outs[0].ID] = l.Infer.Off[in.Args[0].ID]
	if errs := overlaps(p, l); len(errs) == 0 {
		t.Error("an output placed on its input went unnoticed")
	}
}

// TestFusion: every residual add followed by an RMSNorm of the sum, and
// every matmul followed by an activation of its product, is fused, nothing
// else is (gated activations included), and the checker above catches a
// fused pair whose second output was placed on an input of the first, or
// on its output other than as the sanctioned alias (see TestActInPlace).
func TestFusion(t *testing.T) {
	progs := programs(t)
	for name, p := range progs {
		l, err := plan.Plan(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Fused) != len(p.Forward) {
			t.Fatalf("%s: %d fused flags for %d forward instructions", name, len(l.Fused), len(p.Forward))
		}
		n := 0
		for i, f := range l.Fused {
			a := p.Forward[i]
			want := false
			if i+1 < len(p.Forward) && (i == 0 || !l.Fused[i-1]) {
				b := p.Forward[i+1]
				want = (a.Op == ir.OpAdd && b.Op == ir.OpRMSNorm || a.Op == ir.OpMatMul && b.Op == ir.OpAct) && b.Args[0] == a.Outs[0]
			}
			if f != want {
				t.Errorf("%s: forward[%d] %v fused=%v, want %v", name, i, a.Op, f, want)
			}
			if f {
				n++
			}
		}
		if lo, err := plan.PlanWith(p, plan.Options{NoFusion: true}); err != nil || lo.Fused != nil {
			t.Errorf("%s: NoFusion: %v, fused %v", name, err, lo.Fused)
		}
		t.Logf("%s: %d fused pairs", name, n)
	}
	p := progs["stack4"]
	l, err := plan.Plan(p)
	if err != nil {
		t.Fatal(err)
	}
	pairs := map[ir.Op]int{}
	for i, f := range l.Fused {
		if !f {
			continue
		}
		first, second := p.Forward[i], p.Forward[i+1]
		pairs[first.Op]++
		y := second.Outs[0]
		// place moves y to off in a copy of arena a of l and returns the
		// checker's complaints about y and v overlapping.
		place := func(a func(*plan.Layout) *plan.Arena, v *ir.Value, off int) []string {
			bad := *l
			ar := a(&bad)
			ar.Off = append([]int(nil), ar.Off...)
			ar.Off[y.ID] = off
			var errs []string
			for _, e := range overlaps(p, &bad) {
				if strings.Contains(e, " overlaps ") && strings.Contains(e, v.Name+" [") && strings.Contains(e, y.Name+" [") {
					errs = append(errs, e)
				}
			}
			return errs
		}
		infer := func(l *plan.Layout) *plan.Arena { return &l.Infer }
		train := func(l *plan.Layout) *plan.Arena { return &l.Train }
		x, h := first.Args[0], first.Outs[0]
		if len(place(infer, x, l.Infer.Offset(x))) == 0 {
			t.Errorf("forward[%d]: the %v output placed on %s of the %v went unnoticed", i, second.Op, x.Name, first.Op)
		}
		if len(place(train, h, l.Train.Offset(h))) == 0 {
			t.Errorf("forward[%d]: in training, the %v output placed on %s of the %v went unnoticed", i, second.Op, h.Name, first.Op)
		}
		if first.Op == ir.OpAdd {
			if len(place(infer, h, l.Infer.Offset(h))) == 0 {
				t.Errorf("forward[%d]: the %v output placed on %s of the %v went unnoticed", i, second.Op, h.Name, first.Op)
			}
			continue
		}
		// The matmul's product: y on it is sanctioned, but only exactly.
		if errs := place(infer, h, l.Infer.Offset(h)); len(errs) != 0 {
			t.Errorf("forward[%d]: the activation on the product: %v", i, errs)
		}
		if len(place(infer, h, l.Infer.Offset(h)+plan.Align)) == 0 {
			t.Errorf("forward[%d]: the activation placed %d elements past the product went unnoticed", i, plan.Align)
		}
	}
	if pairs[ir.OpAdd] == 0 || pairs[ir.OpMatMul] == 0 {
		t.Errorf("stack4: fused pairs %v, want adds and matmuls", pairs)
	}
}

func overlaps(p *ir.Program, l *plan.Layout) []string {
	var errs []string
	errorf := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	for _, s := range sequences(p, l) {
		first := map[*ir.Value]int{}
		last := map[*ir.Value]int{}
		var vals []*ir.Value
		see := func(v *ir.Value, i int) {
			if v.Kind != ir.KindTemp {
				return
			}
			if _, ok := first[v]; !ok {
				first[v] = i
				vals = append(vals, v)
			}
			last[v] = i
		}
		for i, in := range s.instrs {
			if i == s.seedAt {
				see(p.DLoss, i)
			}
			at := i // a fused pair runs as one instruction
			if i > 0 && i < len(p.Forward) && i-1 < len(l.Fused) && l.Fused[i-1] {
				at = i - 1
			}
			for _, v := range in.Args {
				see(v, at)
			}
			for _, v := range in.Outs {
				see(v, at)
			}
		}
		for _, v := range s.keep {
			if _, ok := last[v]; ok && last[v] < s.keepTo {
				last[v] = s.keepTo
			}
		}
		// The one sanctioned alias: a fused matmul's product h that no
		// later instruction reads (nor the caller: last[h] is the pair's
		// time) may hold the activation of h, at exactly h's offset.
		inPlace := map[[2]*ir.Value]bool{}
		for i := 0; i+1 < len(s.instrs) && i < len(l.Fused); i++ {
			mm, act := s.instrs[i], s.instrs[i+1]
			if !l.Fused[i] || mm.Op != ir.OpMatMul || act.Op != ir.OpAct {
				continue
			}
			h, y := mm.Outs[0], act.Outs[0]
			if act.Args[0] == h && last[h] == i && l.Elems(h) == l.Elems(y) {
				inPlace[[2]*ir.Value{h, y}] = true
			}
		}
		for _, v := range p.Values {
			_, used := first[v]
			if used != s.arena.Has(v) {
				errorf("%s: %s used=%v but has slot=%v", s.name, v.Name, used, s.arena.Has(v))
			}
		}
		for _, v := range vals {
			off := s.arena.Offset(v)
			if off%plan.Align != 0 || off+l.Elems(v) > s.arena.Size {
				errorf("%s: %s at [%d,%d) misaligned or outside the arena of %d", s.name, v.Name, off, off+l.Elems(v), s.arena.Size)
			}
		}
		for i, a := range vals {
			for _, b := range vals[i+1:] {
				if last[a] < first[b] || last[b] < first[a] {
					continue // never live together
				}
				ao, bo := s.arena.Offset(a), s.arena.Offset(b)
				if ao == bo && (inPlace[[2]*ir.Value{a, b}] || inPlace[[2]*ir.Value{b, a}]) {
					continue
				}
				if ao < bo+l.Elems(b) && bo < ao+l.Elems(a) {
					errorf("%s: %s [%d,%d) live %d..%d overlaps %s [%d,%d) live %d..%d", s.name,
						a.Name, ao, ao+l.Elems(a), first[a], last[a], b.Name, bo, bo+l.Elems(b), first[b], last[b])
				}
			}
		}
	}
	return errs
}

// TestSimulate runs every arena's instruction sequence over a shadow arena
// that records which value owns each element: every argument must still
// own its elements when read, and every accumulating first write must be
// preceded by a zeroing the layout asks for.
func TestSimulate(t *testing.T) {
	for name, p := range programs(t) {
		l, err := plan.Plan(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, s := range sequences(p, l) {
			owner := make([]int, s.arena.Size)
			for i := range owner {
				owner[i] = -1
			}
			zeroed := map[*ir.Value]bool{}
			written := map[*ir.Value]bool{}
			write := func(v *ir.Value) {
				off := s.arena.Offset(v)
				for j := off; j < off+l.Elems(v); j++ {
					owner[j] = v.ID
				}
			}
			owns := func(v *ir.Value) bool {
				off := s.arena.Offset(v)
				for j := off; j < off+l.Elems(v); j++ {
					if owner[j] != v.ID {
						return false
					}
				}
				return true
			}
			if len(s.arena.Zero) != len(s.instrs) {
				t.Fatalf("%s/%s: %d zero lists for %d instructions", name, s.name, len(s.arena.Zero), len(s.instrs))
			}
			for i, in := range s.instrs {
				if i == s.seedAt {
					write(p.DLoss)
					written[p.DLoss] = true
				}
				for _, v := range s.arena.Zero[i] {
					if written[v] {
						t.Errorf("%s/%s: instr %d zeroes %s, which already holds data", name, s.name, i, v.Name)
					}
					write(v)
					zeroed[v] = true
				}
				for _, v := range in.Args {
					if v.Kind == ir.KindTemp && !owns(v) {
						t.Errorf("%s/%s: instr %d (%v in %s) reads %s, clobbered", name, s.name, i, in.Op, in.Layer, v.Name)
					}
				}
				for _, v := range in.Outs {
					if v.Kind != ir.KindTemp {
						continue
					}
					if accumulates(in) && !owns(v) {
						t.Errorf("%s/%s: instr %d (%v in %s) accumulates into %s, which is neither zeroed nor intact", name, s.name, i, in.Op, in.Layer, v.Name)
					}
					if !accumulates(in) && zeroed[v] && !written[v] {
						t.Errorf("%s/%s: %s zeroed needlessly", name, s.name, v.Name)
					}
					write(v)
					written[v] = true
				}
				if i != s.keepTo {
					continue
				}
				for _, v := range s.keep {
					if s.arena.Has(v) && !owns(v) {
						t.Errorf("%s/%s: output %s clobbered before the end of the forward section", name, s.name, v.Name)
					}
				}
			}
		}
	}
}

func TestSizesAndReuse(t *testing.T) {
	progs := programs(t)
	p := progs["stack4"]
	l, err := plan.Plan(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := p.MaxBatch * p.MaxSeq; l.MaxTokens != want {
		t.Errorf("MaxTokens = %d, want %d", l.MaxTokens, want)
	}
	if got, want := l.Elems(p.Logits), l.MaxTokens*p.Vocab; got != want {
		t.Errorf("Elems(logits) = %d, want %d", got, want)
	}
	if got := l.Elems(p.Loss); got != 1 {
		t.Errorf("Elems(loss) = %d, want 1", got)
	}
	round := func(n int) int { return (n + plan.Align - 1) / plan.Align * plan.Align }

	// Parameters and gradients: packed in declaration order.
	off := 0
	for _, v := range p.Params {
		if got := l.Params.Offset(v); got != off {
			t.Errorf("param %s at %d, want %d", v.Name, got, off)
		}
		if got := l.Grads.Offset(v.Grad); got != off {
			t.Errorf("grad %s at %d, want %d", v.Name, got, off)
		}
		if l.Params.Has(v.Grad) || l.Grads.Has(v) || l.Train.Has(v) || l.Train.Has(v.Grad) {
			t.Errorf("%s or its gradient is in the wrong arena", v.Name)
		}
		off += round(v.Rows.N * v.Cols)
	}
	if l.Params.Size != off || l.Grads.Size != off {
		t.Errorf("param arena %d, grad arena %d, want %d", l.Params.Size, l.Grads.Size, off)
	}
	for _, v := range []*ir.Value{p.Tokens, p.Targets} {
		if l.Train.Has(v) || l.Infer.Has(v) || l.Eval.Has(v) || l.Params.Has(v) {
			t.Errorf("input %s has an arena slot", v.Name)
		}
	}

	// Reuse: each temporary arena is smaller than the sum of its slots.
	for _, s := range sequences(p, l) {
		sum := 0
		for _, v := range p.Values {
			if s.arena.Has(v) {
				sum += round(l.Elems(v))
			}
		}
		if s.arena.Size >= sum {
			t.Errorf("%s arena: %d elements, no smaller than the %d of its values: no reuse", s.name, s.arena.Size, sum)
		}
		t.Logf("%s arena: %d elements for %d without reuse", s.name, s.arena.Size, sum)
	}
	// Forward activations of every layer are needed by backward, so the
	// training arena holds at least all of them; inference needs less.
	if l.Infer.Size > l.Eval.Size || l.Eval.Size >= l.Train.Size {
		t.Errorf("infer %d, eval %d, train %d: want infer <= eval < train", l.Infer.Size, l.Eval.Size, l.Train.Size)
	}
	// Inference over four blocks needs no more than over one (without
	// fusion: a fused add and norm keeps one more row of values live).
	l4, err := plan.PlanWith(p, plan.Options{NoFusion: true})
	if err != nil {
		t.Fatal(err)
	}
	l1, err := plan.PlanWith(progs["stack1"], plan.Options{NoFusion: true})
	if err != nil {
		t.Fatal(err)
	}
	if l4.Infer.Size != l1.Infer.Size {
		t.Errorf("inference arena: %d for 4 blocks, %d for 1: want equal", l4.Infer.Size, l1.Infer.Size)
	}

	nb := progs["nobackward"]
	lnb, err := plan.Plan(nb)
	if err != nil {
		t.Fatal(err)
	}
	if lnb.Grads.Size != 0 || lnb.Train.Size != lnb.Eval.Size {
		t.Errorf("no backward: grads %d, train %d, eval %d", lnb.Grads.Size, lnb.Train.Size, lnb.Eval.Size)
	}
}

func TestZeroLists(t *testing.T) {
	p := plantest.MustBuild(plantest.Tiny())
	l, err := plan.Plan(p)
	if err != nil {
		t.Fatal(err)
	}
	nf := len(p.Forward)
	for i := range nf {
		if len(l.Train.Zero[i]) != 0 {
			t.Errorf("forward instr %d zeroes %d values", i, len(l.Train.Zero[i]))
		}
	}
	// Every activation gradient is zeroed exactly once, before its first write.
	count := map[*ir.Value]int{}
	for _, z := range l.Train.Zero[nf:] {
		for _, v := range z {
			count[v]++
		}
	}
	for _, v := range p.Values {
		want := 0
		if v.Kind == ir.KindTemp && v.GradOf != nil && v != p.DLoss {
			want = 1
		}
		if count[v] != want {
			t.Errorf("%s zeroed %d times, want %d", v.Name, count[v], want)
		}
	}
}

func TestErrors(t *testing.T) {
	if _, err := plan.Plan(nil); err == nil {
		t.Error("Plan(nil): no error")
	}
	p := plantest.MustBuild(plantest.Tiny())
	p.MaxBatch = 0
	if _, err := plan.Plan(p); err == nil {
		t.Error("MaxBatch 0: no error")
	}
	p = plantest.MustBuild(plantest.Tiny())
	p.Forward[2], p.Forward[3] = p.Forward[3], p.Forward[2] // a read before its write
	if _, err := plan.Plan(p); err == nil {
		t.Error("reordered forward: no error")
	}
}

func TestDeterministic(t *testing.T) {
	a, err := plan.Plan(plantest.MustBuild(plantest.Stack(3)))
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		b, err := plan.Plan(plantest.MustBuild(plantest.Stack(3)))
		if err != nil {
			t.Fatal(err)
		}
		for _, pair := range [][2]*plan.Arena{{&a.Train, &b.Train}, {&a.Infer, &b.Infer}, {&a.Params, &b.Params}} {
			if pair[0].Size != pair[1].Size {
				t.Fatal("sizes differ between runs")
			}
			for i := range pair[0].Off {
				if pair[0].Off[i] != pair[1].Off[i] {
					t.Fatal("offsets differ between runs")
				}
			}
		}
	}
}

// TestActInPlace: in the inference and evaluation arenas, the activation of
// a fused matmul's product (an FFN's up projection) is placed on the
// product, which no later instruction reads; in the training arena the
// backward pass reads the product (act_grad), so the two stay apart.
func TestActInPlace(t *testing.T) {
	p := plantest.MustBuild(plantest.Stack(4))
	l, err := plan.Plan(p)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i, f := range l.Fused {
		mm, act := p.Forward[i], p.Forward[min(i+1, len(p.Forward)-1)]
		if !f || mm.Op != ir.OpMatMul {
			continue
		}
		if act.Op != ir.OpAct || act.Args[0] != mm.Outs[0] {
			t.Fatalf("forward[%d]: a matmul fused with %v", i, act.Op)
		}
		n++
		h, y := mm.Outs[0], act.Outs[0]
		if i+1 < p.NInfer {
			if hi, yi := l.Infer.Offset(h), l.Infer.Offset(y); hi != yi {
				t.Errorf("infer: %s at %d, its activation %s at %d: want the same offset", h.Name, hi, y.Name, yi)
			}
		}
		if he, ye := l.Eval.Offset(h), l.Eval.Offset(y); he != ye {
			t.Errorf("eval: %s at %d, its activation %s at %d: want the same offset", h.Name, he, y.Name, ye)
		}
		ht, yt := l.Train.Offset(h), l.Train.Offset(y)
		if ht < yt+l.Elems(y) && yt < ht+l.Elems(h) {
			t.Errorf("train: %s [%d,%d) overlaps its activation %s [%d,%d)", h.Name, ht, ht+l.Elems(h), y.Name, yt, yt+l.Elems(y))
		}
	}
	if n != 4 {
		t.Errorf("%d fused matmuls, want 4 (one per FFN)", n)
	}
}

// TestFusionArenaSizes: fusion does not grow the inference and evaluation
// arenas of the end-to-end and example models (a fused matmul's product
// and its activation would both be live at the pair, but they share a
// slot), nor the training arena.
func TestFusionArenaSizes(t *testing.T) {
	files, err := filepath.Glob("../../codegen/internal/e2e/*.bf")
	if err != nil || len(files) == 0 {
		t.Fatalf("no e2e models: %v", err)
	}
	files = append(files, "../../examples/charlm/charlm.bf", "../../examples/charlm/dense.bf")
	for _, f := range files {
		progs, diags := compiler.Compile(compiler.Options{}, f)
		if len(diags) > 0 {
			t.Fatalf("%s: %v", f, diags)
		}
		for _, p := range progs {
			fused, err := plan.Plan(p)
			if err != nil {
				t.Fatal(err)
			}
			unfused, err := plan.PlanWith(p, plan.Options{NoFusion: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range []struct {
				name           string
				fused, unfused int
			}{
				{"infer", fused.Infer.Size, unfused.Infer.Size},
				{"eval", fused.Eval.Size, unfused.Eval.Size},
				{"train", fused.Train.Size, unfused.Train.Size},
			} {
				if a.fused > a.unfused {
					t.Errorf("%s: %s arena %d elements fused, %d unfused", p.Name, a.name, a.fused, a.unfused)
				}
			}
			t.Logf("%s: infer %d (unfused %d), eval %d (%d), train %d (%d)", p.Name, fused.Infer.Size, unfused.Infer.Size,
				fused.Eval.Size, unfused.Eval.Size, fused.Train.Size, unfused.Train.Size)
		}
	}
}
