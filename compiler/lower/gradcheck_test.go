package lower_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/bfcdev/bfc/compiler/autodiff"
	"github.com/bfcdev/bfc/compiler/check"
	"github.com/bfcdev/bfc/compiler/eval"
	"github.com/bfcdev/bfc/compiler/ir"
)

// Whole-model gradient checks: lower a model, differentiate it, and compare
// the gradient of the loss with central differences for a random sample of
// elements of every parameter, in float64.
const (
	modelEps     = 1e-6
	modelRel     = 1e-6
	modelAbs     = 1e-9
	modelSamples = 6 // elements checked per parameter
)

func gradModels() map[string]*check.Model {
	mixed := newModel("Mixed", "learned", "none", false,
		blockOpts{norm: "layer", placement: "pre", causal: true, act: "reglu", residual: true},
		blockOpts{norm: "rms", placement: "post", act: "sqrelu", residual: true})
	// A last sub-layer that narrows the width (no residual) before the head.
	mixed.Layers = append(mixed.Layers, &check.Layer{Name: "blocks.2.proj", Block: "Proj", Instance: 2, Sub: "proj", Pos: pos(9, 5),
		Kind: "ffn", Norm: "rms", Placement: "pre", Eps: 1e-6, In: 8, Out: 5, Hidden: 7, Act: "gelu_tanh"})
	return map[string]*check.Model{
		"pre-rms-tied": newModel("PreRMSTied", "learned", "rms", true,
			blockOpts{norm: "rms", placement: "pre", causal: true, act: "swiglu", residual: true},
			blockOpts{norm: "rms", placement: "pre", causal: true, act: "relu", residual: true}),
		"post-layer-untied": newModel("PostLayerUntied", "none", "layer", false,
			blockOpts{norm: "layer", placement: "post", act: "geglu", residual: true},
			blockOpts{norm: "layer", placement: "post", act: "gelu", residual: true}),
		"mixed": mixed,
	}
}

func TestModelGradients(t *testing.T) {
	for name, m := range gradModels() {
		t.Run(name, func(t *testing.T) {
			p := lowered(t, m)
			if err := autodiff.Differentiate(p); err != nil {
				t.Fatal(err)
			}
			if err := ir.Verify(p); err != nil {
				t.Fatalf("differentiated program does not verify: %v", err)
			}
			modelGradCheck(t, p, 2, 5, 42)
		})
	}
}

// modelMinMargin is the smallest routing margin (routecheck.ModelMargin) a
// model gradient check accepts; see TestMoEModelGradients.
const modelMinMargin = 1e-4

func modelGradCheck(t *testing.T, p *ir.Program, batch, seq int, seed uint64) *eval.Machine[float64] {
	var r *rand.Rand
	mc := eval.New[float64](p, batch, seq)
	// Start from the model's own initialisation, then move every parameter
	// (norm scales and biases too) so that gradients are not tiny and the
	// norms' parameters are not at their special values 1 and 0. relu-type
	// activations have kinks; with this seed no sampled step crosses one.
	// With moe layers, draw again (another seed) until no routing decision
	// is within modelMinMargin of flipping.
	for try := uint64(0); ; try++ {
		r = rand.New(rand.NewPCG(seed+1000*try, 3))
		mc.InitParams(seed)
		for _, v := range p.Params {
			x := mc.Get(v)
			for i := range x {
				x[i] += 0.3 * r.NormFloat64()
			}
		}
		n := batch * seq
		tokens, targets := make([]int32, n), make([]int32, n)
		for i := range tokens {
			tokens[i] = int32(r.IntN(p.Vocab))
			targets[i] = int32(r.IntN(p.Vocab))
		}
		targets[3] = -1
		mc.SetTokens(tokens, targets)

		loss := mc.Forward()
		if math.IsNaN(loss) || loss <= 0 {
			t.Fatalf("loss %v", loss)
		}
		mg := routingMargin(mc, batch, seq)
		if mg > modelMinMargin {
			if !math.IsInf(mg, 1) {
				t.Logf("routing margin %.3g after %d draws", mg, try+1)
			}
			break
		}
		if try == 20 {
			t.Fatalf("no draw of 20 has a routing margin above %g (last %g)", modelMinMargin, mg)
		}
	}
	mc.Backward()

	for _, v := range p.Params {
		grad := append([]float64(nil), mc.Get(v.Grad)...)
		x := mc.Get(v)
		worst := 0.0
		for range modelSamples {
			i := r.IntN(len(x))
			orig := x[i]
			x[i] = orig + modelEps
			fp := mc.Forward()
			x[i] = orig - modelEps
			fm := mc.Forward()
			x[i] = orig
			num := (fp - fm) / (2 * modelEps)
			tol := modelRel*math.Max(math.Abs(num), math.Abs(grad[i])) + modelAbs
			worst = math.Max(worst, math.Abs(num-grad[i])/tol)
			if math.Abs(num-grad[i]) > tol {
				t.Errorf("dloss/d%s[%d]: backward %.10g, finite difference %.10g", v.Name, i, grad[i], num)
			}
		}
		t.Logf("dloss/d%s: worst error %.2g of the tolerance", v.Name, worst)
	}
	// Parameters that are not used by a token of the batch get exact zeros
	// (embed.pos rows past seq); the backward pass must leave no NaN.
	for _, v := range p.Params {
		for _, g := range mc.Get(v.Grad) {
			if math.IsNaN(g) || math.IsInf(g, 0) {
				t.Fatalf("%s: non-finite gradient", v.Name)
			}
		}
	}
	return mc
}
