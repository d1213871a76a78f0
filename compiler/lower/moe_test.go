package lower_test

import (
	"math"
	"strings"
	"testing"

	"github.com/bfcdev/bfc/compiler/autodiff"
	"github.com/bfcdev/bfc/compiler/check"
	"github.com/bfcdev/bfc/compiler/eval"
	"github.com/bfcdev/bfc/compiler/eval/routecheck"
	"github.com/bfcdev/bfc/compiler/ir"
)

// moeModel is a causal model of three pre-rms blocks, d=8, batch 3:
// attention + moe (expert choice over group position, 4 experts, c = 2, so
// k = 1 token of the 3 at each position), attention + dense swiglu ffn,
// attention + moe (gated top-2, capacity 1.25, router losses on).
func moeModel() *check.Model {
	m := newModel("Sparse", "learned", "rms", false,
		blockOpts{norm: "rms", placement: "pre", causal: true, act: "gelu", residual: true},
		blockOpts{norm: "rms", placement: "pre", causal: true, act: "swiglu", residual: true},
		blockOpts{norm: "rms", placement: "pre", causal: true, act: "geglu", residual: true})
	m.MaxBatch = 3
	ec, top2 := m.Layers[1], m.Layers[5]
	ec.Name, ec.Sub, ec.Kind, ec.Experts, ec.Hidden = "blocks.0.moe", "moe", "moe", 4, 6
	ec.Route = check.Route{Rule: "expert_choice", Capacity: 2, Group: "position", ZWeight: 1e-3}
	top2.Name, top2.Sub, top2.Kind, top2.Experts, top2.Hidden = "blocks.2.moe", "moe", "moe", 3, 5
	top2.Route = check.Route{Rule: "top_k", K: 2, Capacity: 1.25, Group: "batch", AuxWeight: 0.01, ZWeight: 1e-3}
	return m
}

func TestLowerMoE(t *testing.T) {
	p := lowered(t, moeModel())
	// Parameters: names, logical shapes, init and decay.
	want := map[string]struct {
		shape []int
		std   float64
		decay bool
	}{
		"blocks.0.moe.router":       {[]int{8, 4}, 0.02, false},
		"blocks.0.moe.experts.up":   {[]int{4, 8, 6}, 0.02, true},
		"blocks.0.moe.experts.down": {[]int{4, 6, 8}, 0.02 / math.Sqrt(6), true},
		"blocks.2.moe.router":       {[]int{8, 3}, 0.02, false},
		"blocks.2.moe.experts.up":   {[]int{3, 8, 10}, 0.02, true},
		"blocks.2.moe.experts.down": {[]int{3, 5, 8}, 0.02 / math.Sqrt(6), true},
	}
	found := 0
	for _, v := range p.Params {
		w, ok := want[v.Name]
		if !ok {
			continue
		}
		found++
		if !slicesEqual(v.Shape, w.shape) || v.Init.Kind != "normal" || v.Init.Std != w.std || v.Decay != w.decay {
			t.Errorf("%s: shape %v init %+v decay %v, want %v normal(%v) decay %v", v.Name, v.Shape, v.Init, v.Decay, w.shape, w.std, w.decay)
		}
	}
	if found != len(want) {
		t.Errorf("found %d of the %d moe parameters", found, len(want))
	}
	moes := p.MoE()
	if len(moes) != 2 {
		t.Fatalf("%d moe ops, want 2", len(moes))
	}
	a0, a1 := moes[0].Attrs.MoE, moes[1].Attrs.MoE
	if *a0 != (ir.MoEAttrs{Name: "blocks.0.moe", Workspace: 0, Experts: 4, Hidden: 6, Act: "gelu", Rule: "expert_choice", Capacity: 2, Group: "position", ZWeight: 1e-3}) {
		t.Errorf("expert choice attrs %+v", *a0)
	}
	if *a1 != (ir.MoEAttrs{Name: "blocks.2.moe", Workspace: 1, Experts: 3, Hidden: 5, Act: "gelu", Gated: true, Rule: "top_k", K: 2, Capacity: 1.25, Group: "batch", AuxWeight: 0.01, ZWeight: 1e-3}) {
		t.Errorf("top-2 attrs %+v", *a1)
	}
	// The moe reads the layer's norm and feeds the residual.
	if in := moes[0]; in.Args[0].Name != "blocks.0.moe.norm" || in.Layer != "blocks.0.moe" {
		t.Errorf("moe reads %s in layer %s", in.Args[0].Name, in.Layer)
	}
	// Loss = (CE + aux0) + aux1, CE kept.
	n := len(p.Forward)
	add1, add0 := p.Forward[n-1], p.Forward[n-2]
	if p.CE == nil || p.CE.Name != "loss/ce" || add0.Op != ir.OpAdd || add0.Args[0] != p.CE || add0.Args[1] != moes[0].Outs[1] ||
		add1.Op != ir.OpAdd || add1.Args[0] != add0.Outs[0] || add1.Args[1] != moes[1].Outs[1] || p.Loss != add1.Outs[0] {
		t.Errorf("loss is not CE + aux0 + aux1:\n%s", printed(t, p))
	}
	text := printed(t, p)
	for _, s := range []string{
		"= moe %", "experts=4 hidden=6 act=gelu route=expert_choice(capacity=2, group=position, z=0.001) ws=0 ; blocks.0.moe  tiny.bf:8:5",
		"experts=3 hidden=5 act=gelu gated route=top_k(k=2, capacity=1.25, group=batch, aux=0.01, z=0.001) ws=1",
		"  ; cross-entropy %",
	} {
		if !strings.Contains(text, s) {
			t.Errorf("Print lacks %q:\n%s", s, text)
		}
	}
	if err := autodiff.Differentiate(p); err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(p); err != nil {
		t.Fatal(err)
	}
	grads := 0
	for _, in := range p.Backward {
		if in.Op == ir.OpMoEGrad {
			grads++
			if in.Args[1].GradOf == nil || in.Args[1].GradOf.Kind != ir.KindTemp || in.Args[1].Type() != (ir.Type{Rows: ir.Static(1), Cols: 1}) {
				t.Errorf("moe_grad's daux %v is not the gradient of the router losses", in.Args[1].Name)
			}
		}
	}
	if grads != 2 {
		t.Errorf("%d moe_grad instructions, want 2", grads)
	}
}

// A dense model keeps its loss: the cross-entropy itself, named "loss".
func TestLowerDenseCE(t *testing.T) {
	p := lowered(t, newModel("Dense", "learned", "rms", false, blockOpts{norm: "rms", placement: "pre", act: "gelu", residual: true}))
	if p.CE == nil || p.CE != p.Loss || p.Loss.Name != "loss" {
		t.Errorf("dense model: CE %v, loss %v", p.CE, p.Loss)
	}
}

// TestMoEModelGradients gradient-checks the whole moe model in float64.
// Routing is piecewise constant, so modelGradCheck redraws the parameter
// perturbation until every router probability gap that decides a routing
// choice exceeds 1e-4 (routecheck.ModelMargin, computed from the router
// inputs the forward run left, independently of runtime/moe): a step of
// 1e-6 then flips no choice.
func TestMoEModelGradients(t *testing.T) {
	p := lowered(t, moeModel())
	if err := autodiff.Differentiate(p); err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(p); err != nil {
		t.Fatal(err)
	}
	mc := modelGradCheck(t, p, 3, 5, 42)
	for _, s := range mc.RoutingStats() {
		t.Logf("%s: %+v", s.Name, s.Stats)
	}
}

func slicesEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// routingMargin is the smallest routing margin of the machine's last
// forward run (+Inf for a dense model).
func routingMargin(mc *eval.Machine[float64], batch, seq int) float64 {
	return routecheck.ModelMargin(mc, batch, seq)
}
