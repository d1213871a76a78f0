package lower

import (
	"fmt"
	"math"

	"github.com/bfcdev/bfc/compiler/check"
	"github.com/bfcdev/bfc/compiler/ir"
	"github.com/bfcdev/bfc/lang/source"
)

// Initialisation constants (GPT-2 style).
const (
	matrixStd = 0.02 // every matrix and the token embedding
	posStd    = 0.01 // the learned position embedding
)

// Lower turns a checked model into a forward-only program (autodiff adds
// the backward list). The program satisfies ir.Verify.
func Lower(m *check.Model) (*ir.Program, error) {
	l := &lowerer{m: m}
	return l.run()
}

type lowerer struct {
	m      *check.Model
	p      *ir.Program
	b      ir.Builder
	outStd float64     // init std of output projections
	aux    []*ir.Value // the router losses of the moe layers, in order
}

// op appends an instruction; lowering stops at the first error.
func (l *lowerer) op(op ir.Op, a ir.Attrs, name string, args ...*ir.Value) []*ir.Value {
	outs, err := l.b.Op(op, a, name, args...)
	if err != nil {
		panic(lowerError{err})
	}
	return outs
}

type lowerError struct{ err error }

// at sets the layer name and position stamped on what follows.
func (l *lowerer) at(layer string, pos source.Pos) {
	l.b.Layer, l.b.Pos = layer, pos
}

func (l *lowerer) run() (p *ir.Program, err error) {
	defer func() {
		if r := recover(); r != nil {
			le, ok := r.(lowerError)
			if !ok {
				panic(r)
			}
			p, err = nil, le.err
		}
	}()
	m := l.m
	if m.Vocab <= 0 || m.D <= 0 || m.MaxBatch <= 0 || m.MaxSeq <= 0 {
		return nil, fmt.Errorf("model %s: vocab=%d d=%d batch=%d seq=%d, want all positive", m.Name, m.Vocab, m.D, m.MaxBatch, m.MaxSeq)
	}
	l.p = &ir.Program{Name: m.Name, MaxBatch: m.MaxBatch, MaxSeq: m.MaxSeq, Vocab: m.Vocab, D: m.D}
	l.b.P = l.p
	for _, c := range m.Consts {
		l.p.Consts = append(l.p.Consts, ir.Const{Name: c.Name, Type: c.Type, Int: c.Int, Real: c.Real, Bool: c.Bool, Pos: c.Pos})
	}
	l.outStd = matrixStd / math.Sqrt(2*float64(max(numBlocks(m), 1)))

	p = l.p
	p.Tokens = p.NewValue("tokens", ir.KindInput, ir.Int32, ir.TokenRows, 1, m.Pos)
	p.Targets = p.NewValue("targets", ir.KindInput, ir.Int32, ir.TokenRows, 1, m.LossPos)

	// Embedding.
	l.at("embed", m.EmbedPos)
	table := p.NewParam("embed.tokens", []int{m.Vocab, m.D}, m.Vocab, m.D, normal(matrixStd), true, m.EmbedPos)
	x := l.op(ir.OpEmbed, ir.Attrs{}, "embed", p.Tokens, table)[0]
	switch m.PosEmbed {
	case "learned":
		pos := p.NewParam("embed.pos", []int{m.MaxSeq, m.D}, m.MaxSeq, m.D, normal(posStd), true, m.EmbedPos)
		x = l.op(ir.OpAddPos, ir.Attrs{}, "embed/pos", x, pos)[0]
	case "none", "":
	default:
		return nil, fmt.Errorf("model %s: unknown position embedding %q", m.Name, m.PosEmbed)
	}

	for _, ly := range m.Layers {
		x, err = l.layer(ly, x)
		if err != nil {
			return nil, err
		}
	}

	if m.FinalWidth != 0 && x.Cols != m.FinalWidth {
		return nil, fmt.Errorf("model %s: the stream is %d wide after the last block, the checker says %d", m.Name, x.Cols, m.FinalWidth)
	}

	// Final norm and head.
	l.at("norm", m.NormPos)
	x, err = l.norm("norm", m.FinalNorm, m.NormEps, x)
	if err != nil {
		return nil, err
	}
	l.at("head", m.HeadPos)
	if m.Tied {
		p.Logits = l.op(ir.OpMatMul, ir.Attrs{TransB: true}, "logits", x, table)[0]
	} else {
		w := p.NewParam("head.weight", []int{x.Cols, m.Vocab}, x.Cols, m.Vocab, normal(matrixStd), true, m.HeadPos)
		p.Logits = l.op(ir.OpMatMul, ir.Attrs{}, "logits", x, w)[0]
	}
	p.NInfer = len(p.Forward)

	l.at("loss", m.LossPos)
	ceName := "loss"
	if len(l.aux) > 0 {
		ceName = "loss/ce"
	}
	switch m.Loss {
	case "cross_entropy", "":
		p.CE = l.op(ir.OpCrossEntropy, ir.Attrs{}, ceName, p.Logits, p.Targets)[0]
	default:
		return nil, fmt.Errorf("model %s: unknown loss %q", m.Name, m.Loss)
	}
	// The training loss adds every moe layer's router losses (already
	// weighted) to the cross-entropy.
	p.Loss = p.CE
	for _, aux := range l.aux {
		p.Loss = l.op(ir.OpAdd, ir.Attrs{}, "loss", p.Loss, aux)[0]
	}
	return p, nil
}

// numBlocks counts the block instances (transformer layers) of m.
func numBlocks(m *check.Model) int {
	seen := make(map[string]bool)
	for _, ly := range m.Layers {
		seen[fmt.Sprintf("%s#%d", ly.Block, ly.Instance)] = true
	}
	return len(seen)
}

func normal(std float64) ir.Init { return ir.Init{Kind: "normal", Std: std} }

// norm applies the norm kind ("rms", "layer", "none") to x, creating the
// parameters <prefix>.scale and <prefix>.bias.
func (l *lowerer) norm(prefix, kind string, eps float64, x *ir.Value) (*ir.Value, error) {
	p, d, pos := l.p, x.Cols, l.b.Pos
	switch kind {
	case "none", "":
		return x, nil
	case "rms":
		g := p.NewParam(prefix+".scale", []int{d}, 1, d, ir.Init{Kind: "ones"}, false, pos)
		return l.op(ir.OpRMSNorm, ir.Attrs{Eps: eps}, prefix, x, g)[0], nil
	case "layer":
		g := p.NewParam(prefix+".scale", []int{d}, 1, d, ir.Init{Kind: "ones"}, false, pos)
		b := p.NewParam(prefix+".bias", []int{d}, 1, d, ir.Init{Kind: "zeros"}, false, pos)
		return l.op(ir.OpLayerNorm, ir.Attrs{Eps: eps}, prefix, x, g, b)[0], nil
	}
	return nil, fmt.Errorf("%s: unknown norm %q", l.b.Layer, kind)
}

// layer lowers one sub-layer: with pre placement h = norm(x), f = prim(h),
// y = x + f (or f); with post placement f = prim(x), s = x + f (or f),
// y = norm(s).
func (l *lowerer) layer(ly *check.Layer, x *ir.Value) (*ir.Value, error) {
	l.at(ly.Name, ly.Pos)
	if x.Cols != ly.In {
		return nil, fmt.Errorf("%s: input width %d, the layer expects %d", ly.Name, x.Cols, ly.In)
	}
	if ly.Residual && ly.In != ly.Out {
		return nil, fmt.Errorf("%s: a residual needs equal input and output widths, got %d and %d", ly.Name, ly.In, ly.Out)
	}
	normPrefix := ly.Name + ".norm"
	var err error
	h := x
	if ly.Placement == "pre" {
		if h, err = l.norm(normPrefix, ly.Norm, ly.Eps, x); err != nil {
			return nil, err
		}
	} else if ly.Placement != "post" {
		return nil, fmt.Errorf("%s: unknown norm placement %q", ly.Name, ly.Placement)
	}
	var f *ir.Value
	switch ly.Kind {
	case "attention":
		f = l.attention(ly, h)
	case "ffn":
		f = l.ffn(ly, h)
	case "moe":
		if f, err = l.moe(ly, h); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%s: unknown layer kind %q", ly.Name, ly.Kind)
	}
	y := f
	if ly.Residual {
		y = l.op(ir.OpAdd, ir.Attrs{}, ly.Name+"/residual", x, f)[0]
	}
	if ly.Placement == "post" {
		return l.norm(normPrefix, ly.Norm, ly.Eps, y)
	}
	return y, nil
}

func (l *lowerer) attention(ly *check.Layer, h *ir.Value) *ir.Value {
	p, pos := l.p, ly.Pos
	hd := ly.Heads * ly.HeadDim
	wqkv := p.NewParam(ly.Name+".qkv", []int{ly.In, 3 * hd}, ly.In, 3*hd, normal(matrixStd), true, pos)
	qkv := l.op(ir.OpMatMul, ir.Attrs{}, ly.Name+"/qkv", h, wqkv)[0]
	a := l.op(ir.OpAttention, ir.Attrs{Heads: ly.Heads, HeadDim: ly.HeadDim, Causal: ly.Causal}, ly.Name+"/attn", qkv)[0]
	wout := p.NewParam(ly.Name+".out", []int{hd, ly.Out}, hd, ly.Out, normal(l.outStd), true, pos)
	return l.op(ir.OpMatMul, ir.Attrs{}, ly.Name+"/out", a, wout)[0]
}

func (l *lowerer) ffn(ly *check.Layer, h *ir.Value) *ir.Value {
	p, pos := l.p, ly.Pos
	gate, gated := ly.Gated()
	upCols := ly.Hidden
	if gated {
		upCols = 2 * ly.Hidden
	}
	wup := p.NewParam(ly.Name+".up", []int{ly.In, upCols}, ly.In, upCols, normal(matrixStd), true, pos)
	u := l.op(ir.OpMatMul, ir.Attrs{}, ly.Name+"/up", h, wup)[0]
	var a *ir.Value
	if gated {
		a = l.op(ir.OpGLU, ir.Attrs{Act: gate}, ly.Name+"/glu", u)[0]
	} else {
		a = l.op(ir.OpAct, ir.Attrs{Act: gate}, ly.Name+"/act", u)[0]
	}
	wdown := p.NewParam(ly.Name+".down", []int{ly.Hidden, ly.Out}, ly.Hidden, ly.Out, normal(l.outStd), true, pos)
	return l.op(ir.OpMatMul, ir.Attrs{}, ly.Name+"/down", a, wdown)[0]
}

// Initialisation of a moe layer: the router is small (normal, std 0.02 as
// in flaxformer) and not decayed, since shrinking it flattens the routing
// distribution; the experts are initialised and decayed like a dense ffn's
// up and down projections.
const routerStd = 0.02

// moe lowers a mixture-of-experts layer: one fused op with parameters
// <layer>.router [d,E], <layer>.experts.up [E,d,H1] and
// <layer>.experts.down [E,H,d]. Its router losses are collected for the
// model loss.
func (l *lowerer) moe(ly *check.Layer, h *ir.Value) (*ir.Value, error) {
	p, pos := l.p, ly.Pos
	if ly.In != ly.Out {
		return nil, fmt.Errorf("%s: a moe layer keeps the width, got %d in and %d out", ly.Name, ly.In, ly.Out)
	}
	gate, gated := ly.Gated()
	r := ly.Route
	a := &ir.MoEAttrs{
		Name: ly.Name, Workspace: len(l.aux),
		Experts: ly.Experts, Hidden: ly.Hidden, Act: gate, Gated: gated,
		Rule: r.Rule, Capacity: r.Capacity, Group: r.Group, ZWeight: r.ZWeight, Fill: r.Fill, Causal: r.Causal,
	}
	if r.Rule == ir.RuleTopK {
		a.K, a.AuxWeight = r.K, r.AuxWeight
	} else if r.K != 0 || r.AuxWeight != 0 {
		return nil, fmt.Errorf("%s: %s routing with k=%d aux=%v: only top_k has those", ly.Name, r.Rule, r.K, r.AuxWeight)
	}
	d, e, up := ly.In, ly.Experts, a.UpCols()
	if e < 1 || ly.Hidden < 1 {
		return nil, fmt.Errorf("%s: experts=%d hidden=%d, want both positive", ly.Name, e, ly.Hidden)
	}
	wg := p.NewParam(ly.Name+".router", []int{d, e}, d, e, normal(routerStd), false, pos)
	w1 := p.NewParam(ly.Name+".experts.up", []int{e, d, up}, e*d, up, normal(matrixStd), true, pos)
	w2 := p.NewParam(ly.Name+".experts.down", []int{e, ly.Hidden, d}, e*ly.Hidden, d, normal(l.outStd), true, pos)
	outs := l.op(ir.OpMoE, ir.Attrs{MoE: a}, ly.Name+"/moe", h, wg, w1, w2)
	l.aux = append(l.aux, outs[1])
	return outs[0], nil
}
