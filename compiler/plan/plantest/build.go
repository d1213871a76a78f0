package plantest

import (
	"fmt"

	"github.com/bfcdev/bfc/compiler/ir"
	"github.com/bfcdev/bfc/lang/source"
)

// Config describes a model.
type Config struct {
	Name                string
	Vocab, D            int
	MaxBatch, MaxSeq    int
	PosEmbed            bool    // learned position embedding
	Layers              []Layer // every sub-layer, in order
	FinalNorm           string  // "rms", "layer" or "none"
	Tied                bool    // head tied to the token embedding
	NoBackward          bool    // skip the backward list
	Consts              []ir.Const
	Eps                 float64 // norm epsilon (0: 1e-5)
	InitStd, PosInitStd float64 // (0: 0.02 and 0.01)
}

// Layer is one sub-layer: a primitive wrapped in a residual and a norm.
type Layer struct {
	Name      string // "blocks.<i>.<sub>"
	Kind      string // "attention" or "ffn"
	Norm      string // "rms", "layer" or "none"
	Placement string // "pre" or "post"

	Heads, HeadDim int
	Causal         bool

	Hidden int
	Act    string // relu, gelu, gelu_tanh, sqrelu, silu, reglu, geglu, swiglu
}

// Tiny is a one-block model with every op: learned positions, a pre-rms
// causal attention, a post-layer-norm SwiGLU FFN, a final rms norm and an
// untied head.
func Tiny() Config {
	return Config{
		Name: "Tiny", Vocab: 11, D: 8, MaxBatch: 2, MaxSeq: 5, PosEmbed: true,
		Layers: []Layer{
			{Name: "blocks.0.attn", Kind: "attention", Norm: "rms", Placement: "pre", Heads: 2, HeadDim: 4, Causal: true},
			{Name: "blocks.0.ffn", Kind: "ffn", Norm: "layer", Placement: "post", Hidden: 12, Act: "swiglu"},
		},
		FinalNorm: "rms",
		Consts: []ir.Const{
			{Name: "vocab", Type: "dim", Int: 11},
			{Name: "d", Type: "dim", Int: 8},
			{Name: "heads", Type: "int", Int: 2},
			{Name: "head_dim", Type: "dim", Int: 4},
			{Name: "dropout", Type: "real", Real: 0.25},
			{Name: "causal", Type: "bool", Bool: true},
		},
	}
}

// Stack is a model of n pre-rms blocks of attention and GELU FFN with a
// tied head.
func Stack(n int) Config {
	c := Config{Name: "Stack", Vocab: 16, D: 8, MaxBatch: 2, MaxSeq: 6, PosEmbed: true, FinalNorm: "layer", Tied: true}
	for i := range n {
		c.Layers = append(c.Layers,
			Layer{Name: fmt.Sprintf("blocks.%d.attn", i), Kind: "attention", Norm: "rms", Placement: "pre", Heads: 2, HeadDim: 4, Causal: true},
			Layer{Name: fmt.Sprintf("blocks.%d.ffn", i), Kind: "ffn", Norm: "rms", Placement: "pre", Hidden: 16, Act: "gelu"},
		)
	}
	return c
}

// MustBuild is Build that panics on error.
func MustBuild(c Config) *ir.Program {
	p, err := Build(c)
	if err != nil {
		panic(err)
	}
	return p
}

type builder struct {
	c   Config
	p   *ir.Program
	b   ir.Builder
	err error
}

// Build lowers c to a program that passes ir.Verify.
func Build(c Config) (*ir.Program, error) {
	if c.Eps == 0 {
		c.Eps = 1e-5
	}
	if c.InitStd == 0 {
		c.InitStd = 0.02
	}
	if c.PosInitStd == 0 {
		c.PosInitStd = 0.01
	}
	p := &ir.Program{Name: c.Name, Consts: c.Consts, MaxBatch: c.MaxBatch, MaxSeq: c.MaxSeq, Vocab: c.Vocab, D: c.D}
	bl := &builder{c: c, p: p, b: ir.Builder{P: p}}
	pos := source.Pos{File: "plantest", Line: 1, Col: 1}
	bl.b.Pos = pos
	p.Tokens = p.NewValue("tokens", ir.KindInput, ir.Int32, ir.TokenRows, 1, pos)
	p.Targets = p.NewValue("targets", ir.KindInput, ir.Int32, ir.TokenRows, 1, pos)

	bl.b.Layer = "embed"
	table := bl.param("embed.tokens", c.Vocab, c.D, ir.Init{Kind: "normal", Std: c.InitStd}, false)
	x := bl.op1(ir.OpEmbed, ir.Attrs{}, "x", p.Tokens, table)
	if c.PosEmbed {
		posT := bl.param("embed.pos", c.MaxSeq, c.D, ir.Init{Kind: "normal", Std: c.PosInitStd}, false)
		x = bl.op1(ir.OpAddPos, ir.Attrs{}, "x", x, posT)
	}
	for _, l := range c.Layers {
		x = bl.layer(l, x)
	}
	bl.b.Layer = "norm"
	x = bl.norm(c.FinalNorm, "norm", x)
	bl.b.Layer = "head"
	if c.Tied {
		p.Logits = bl.op1(ir.OpMatMul, ir.Attrs{TransB: true}, "logits", x, table)
	} else {
		w := bl.param("head.weight", c.D, c.Vocab, ir.Init{Kind: "normal", Std: c.InitStd}, true)
		p.Logits = bl.op1(ir.OpMatMul, ir.Attrs{}, "logits", x, w)
	}
	p.NInfer = len(p.Forward)
	bl.b.Layer = "loss"
	outs := bl.op(ir.OpCrossEntropy, ir.Attrs{}, "loss", p.Logits, p.Targets)
	if bl.err != nil {
		return nil, bl.err
	}
	p.Loss = outs[0]
	if !c.NoBackward {
		differentiate(p)
	}
	if err := ir.Verify(p); err != nil {
		return nil, fmt.Errorf("plantest: %s: %w", c.Name, err)
	}
	return p, nil
}

func (bl *builder) param(name string, rows, cols int, init ir.Init, decay bool) *ir.Value {
	shape := []int{rows, cols}
	if rows == 1 {
		shape = []int{cols}
	}
	return bl.p.NewParam(name, shape, rows, cols, init, decay, bl.b.Pos)
}

func (bl *builder) op(op ir.Op, a ir.Attrs, name string, args ...*ir.Value) []*ir.Value {
	if bl.err != nil {
		return make([]*ir.Value, op.NumOuts())
	}
	outs, err := bl.b.Op(op, a, name, args...)
	if err != nil {
		bl.err = err
		return make([]*ir.Value, op.NumOuts())
	}
	return outs
}

func (bl *builder) op1(op ir.Op, a ir.Attrs, name string, args ...*ir.Value) *ir.Value {
	return bl.op(op, a, name, args...)[0]
}

func (bl *builder) norm(kind, prefix string, x *ir.Value) *ir.Value {
	d := bl.c.D
	switch kind {
	case "rms":
		g := bl.param(prefix+".scale", 1, d, ir.Init{Kind: "ones"}, false)
		return bl.op1(ir.OpRMSNorm, ir.Attrs{Eps: bl.c.Eps}, prefix, x, g)
	case "layer":
		g := bl.param(prefix+".scale", 1, d, ir.Init{Kind: "ones"}, false)
		b := bl.param(prefix+".bias", 1, d, ir.Init{Kind: "zeros"}, false)
		return bl.op1(ir.OpLayerNorm, ir.Attrs{Eps: bl.c.Eps}, prefix, x, g, b)
	}
	return x
}

func (bl *builder) layer(l Layer, x *ir.Value) *ir.Value {
	bl.b.Layer = l.Name
	h := x
	if l.Placement == "pre" {
		h = bl.norm(l.Norm, l.Name+".norm", x)
	}
	var f *ir.Value
	d := bl.c.D
	normal := ir.Init{Kind: "normal", Std: bl.c.InitStd}
	switch l.Kind {
	case "attention":
		w := l.Heads * l.HeadDim
		qkvW := bl.param(l.Name+".qkv", d, 3*w, normal, true)
		outW := bl.param(l.Name+".out", w, d, normal, true)
		qkv := bl.op1(ir.OpMatMul, ir.Attrs{}, l.Name+".qkv", h, qkvW)
		y := bl.op1(ir.OpAttention, ir.Attrs{Heads: l.Heads, HeadDim: l.HeadDim, Causal: l.Causal}, l.Name+".attn", qkv)
		f = bl.op1(ir.OpMatMul, ir.Attrs{}, l.Name+".out", y, outW)
	case "ffn":
		gate, gated := gateOf(l.Act)
		up := l.Hidden
		if gated {
			up *= 2
		}
		upW := bl.param(l.Name+".up", d, up, normal, true)
		downW := bl.param(l.Name+".down", l.Hidden, d, normal, true)
		u := bl.op1(ir.OpMatMul, ir.Attrs{}, l.Name+".up", h, upW)
		var a *ir.Value
		if gated {
			a = bl.op1(ir.OpGLU, ir.Attrs{Act: gate}, l.Name+".glu", u)
		} else {
			a = bl.op1(ir.OpAct, ir.Attrs{Act: l.Act}, l.Name+".act", u)
		}
		f = bl.op1(ir.OpMatMul, ir.Attrs{}, l.Name+".down", a, downW)
	default:
		bl.err = fmt.Errorf("plantest: layer %s: unknown kind %q", l.Name, l.Kind)
		return x
	}
	x = bl.op1(ir.OpAdd, ir.Attrs{}, l.Name+".residual", x, f)
	if l.Placement == "post" {
		x = bl.norm(l.Norm, l.Name+".norm", x)
	}
	return x
}

func gateOf(act string) (string, bool) {
	switch act {
	case "reglu":
		return "relu", true
	case "geglu":
		return "gelu", true
	case "swiglu":
		return "silu", true
	}
	return act, false
}
