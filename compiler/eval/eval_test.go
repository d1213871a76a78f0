package eval_test

import (
	"math"
	"slices"
	"testing"

	"github.com/bfcdev/bfc/compiler/autodiff"
	"github.com/bfcdev/bfc/compiler/eval"
	"github.com/bfcdev/bfc/compiler/ir"
)

// smallModel: embed + positions, a pre-layernorm gelu ffn with residual,
// a tied head and cross-entropy; differentiated.
func smallModel(t *testing.T) *ir.Program {
	t.Helper()
	const v, d, h = 9, 6, 10
	p := &ir.Program{Name: "small", MaxBatch: 2, MaxSeq: 5, Vocab: v, D: d}
	b := ir.Builder{P: p, Layer: "m"}
	op := func(o ir.Op, a ir.Attrs, args ...*ir.Value) *ir.Value {
		outs, err := b.Op(o, a, "v", args...)
		if err != nil {
			t.Fatal(err)
		}
		return outs[0]
	}
	normal := func(std float64) ir.Init { return ir.Init{Kind: "normal", Std: std} }
	p.Tokens = p.NewValue("tokens", ir.KindInput, ir.Int32, ir.TokenRows, 1, b.Pos)
	p.Targets = p.NewValue("targets", ir.KindInput, ir.Int32, ir.TokenRows, 1, b.Pos)
	table := p.NewParam("embed.tokens", []int{v, d}, v, d, normal(0.5), true, b.Pos)
	pos := p.NewParam("embed.pos", []int{5, d}, 5, d, normal(0.5), true, b.Pos)
	g := p.NewParam("ffn.norm.scale", []int{d}, 1, d, ir.Init{Kind: "ones"}, false, b.Pos)
	bias := p.NewParam("ffn.norm.bias", []int{d}, 1, d, ir.Init{Kind: "zeros"}, false, b.Pos)
	up := p.NewParam("ffn.up", []int{d, h}, d, h, normal(0.5), true, b.Pos)
	down := p.NewParam("ffn.down", []int{h, d}, h, d, normal(0.5), true, b.Pos)
	x := op(ir.OpAddPos, ir.Attrs{}, op(ir.OpEmbed, ir.Attrs{}, p.Tokens, table), pos)
	n := op(ir.OpLayerNorm, ir.Attrs{Eps: 1e-5}, x, g, bias)
	f := op(ir.OpMatMul, ir.Attrs{}, op(ir.OpAct, ir.Attrs{Act: "gelu"}, op(ir.OpMatMul, ir.Attrs{}, n, up)), down)
	y := op(ir.OpAdd, ir.Attrs{}, x, f)
	p.Logits = op(ir.OpMatMul, ir.Attrs{TransB: true}, y, table)
	p.NInfer = len(p.Forward)
	p.Loss = op(ir.OpCrossEntropy, ir.Attrs{}, p.Logits, p.Targets)
	if err := autodiff.Differentiate(p); err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(p); err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	tokens  = []int32{1, 4, 4, 0, 8, 2, 3, 3}
	targets = []int32{4, 4, 0, -1, 2, 3, 3, 7}
)

func run[F float32 | float64](t *testing.T, p *ir.Program) (*eval.Machine[F], float64) {
	m := eval.New[F](p, 2, 4)
	m.InitParams(1)
	m.SetTokens(tokens, targets)
	loss := m.Forward()
	m.Backward()
	return m, loss
}

func TestFloat32MatchesFloat64(t *testing.T) {
	p := smallModel(t)
	m32, l32 := run[float32](t, p)
	m64, l64 := run[float64](t, p)
	if math.Abs(l32-l64) > 1e-5*l64 || l64 < 1 {
		t.Errorf("loss float32 %v, float64 %v", l32, l64)
	}
	for _, v := range p.Params {
		for _, pair := range [][2]*ir.Value{{v, v}, {v.Grad, v.Grad}} {
			a, b := m32.Get(pair[0]), m64.Get(pair[1])
			for i := range b {
				if math.Abs(float64(a[i])-b[i]) > 1e-4*(1+math.Abs(b[i])) {
					t.Errorf("%s[%d]: float32 %v, float64 %v", pair[0].Name, i, a[i], b[i])
					break
				}
			}
		}
	}
}

func TestInferAndRepeat(t *testing.T) {
	p := smallModel(t)
	m, loss := run[float64](t, p)
	logits := slices.Clone(m.Get(p.Logits))
	grads := map[*ir.Value][]float64{}
	for _, v := range p.Params {
		grads[v] = slices.Clone(m.Get(v.Grad))
	}
	// Backward zeroes before accumulating, so a second run gives the same
	// gradients; Infer gives the same logits.
	if l := m.Forward(); l != loss {
		t.Errorf("second Forward: loss %v, first %v", l, loss)
	}
	m.Backward()
	for _, v := range p.Params {
		if !slices.Equal(grads[v], m.Get(v.Grad)) {
			t.Errorf("%s: gradient changed on a second Backward", v.Name)
		}
	}
	clear(m.Get(p.Logits))
	m.Infer()
	if !slices.Equal(logits, m.Get(p.Logits)) {
		t.Errorf("Infer logits differ from Forward's")
	}
	// The loss matches a direct computation from the logits.
	var want float64
	count := 0
	for r, tg := range targets {
		if tg < 0 {
			continue
		}
		row := logits[r*p.Vocab : (r+1)*p.Vocab]
		var s float64
		for _, z := range row {
			s += math.Exp(z)
		}
		want += math.Log(s) - row[tg]
		count++
	}
	want /= float64(count)
	if math.Abs(loss-want) > 1e-12 {
		t.Errorf("loss %v, direct %v", loss, want)
	}
}

func TestInitParams(t *testing.T) {
	p := smallModel(t)
	a, b := eval.New[float64](p, 1, 5), eval.New[float64](p, 1, 5)
	a.InitParams(7)
	b.InitParams(7)
	for _, v := range p.Params {
		x := a.Get(v)
		if !slices.Equal(x, b.Get(v)) {
			t.Errorf("%s: same seed, different values", v.Name)
		}
		switch v.Init.Kind {
		case "ones", "zeros":
			want := 0.0
			if v.Init.Kind == "ones" {
				want = 1
			}
			for _, e := range x {
				if e != want {
					t.Errorf("%s: %v, want all %v", v.Name, e, want)
					break
				}
			}
		case "normal":
			var ss float64
			for _, e := range x {
				ss += e * e
			}
			if std := math.Sqrt(ss / float64(len(x))); std < 0.5*v.Init.Std || std > 1.5*v.Init.Std {
				t.Errorf("%s: std %v, want about %v", v.Name, std, v.Init.Std)
			}
		}
	}
	if len(a.Get(p.Logits)) != 5*p.Vocab || a.Rows(p.Logits) != 5 || a.Rows(p.Params[0]) != p.Vocab {
		t.Errorf("sizes: logits %d", len(a.Get(p.Logits)))
	}
}
