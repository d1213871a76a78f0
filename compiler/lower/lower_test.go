package lower_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/bfcdev/bfc/compiler/autodiff"
	"github.com/bfcdev/bfc/compiler/check"
	"github.com/bfcdev/bfc/compiler/ir"
	"github.com/bfcdev/bfc/compiler/lower"
	"github.com/bfcdev/bfc/lang/source"
)

func pos(line, col int) source.Pos { return source.Pos{File: "tiny.bf", Line: line, Col: col} }

// blockOpts describe one block of two sub-layers (attn, then ffn).
type blockOpts struct {
	norm, placement string // both sub-layers
	causal          bool
	act             string // the ffn's
	residual        bool
}

// newModel builds a checked model by hand: d=8, vocab 11, 2 heads of 4,
// hidden 12, one block per opts entry.
func newModel(name string, posEmbed, finalNorm string, tied bool, blocks ...blockOpts) *check.Model {
	const d = 8
	m := &check.Model{
		Name: name, Pos: pos(1, 1),
		Consts: []check.Const{{Name: "d", Type: "dim", Int: d, Pos: pos(2, 3)}, {Name: "eps", Type: "real", Real: 1e-5, Pos: pos(3, 3)}},
		Vocab:  11, D: d, MaxBatch: 2, MaxSeq: 6,
		PosEmbed: posEmbed, EmbedPos: pos(4, 3),
		FinalNorm: finalNorm, NormPos: pos(20, 3), NormEps: 1e-5,
		Tied: tied, HeadPos: pos(21, 3),
		Loss: "cross_entropy", LossPos: pos(22, 3),
	}
	for i, b := range blocks {
		prefix := fmt.Sprintf("blocks.%d.", i)
		m.Layers = append(m.Layers,
			&check.Layer{Name: prefix + "attn", Block: "Block", Instance: i, Sub: "attn", Pos: pos(7, 5),
				Kind: "attention", Norm: b.norm, Placement: b.placement, Eps: 1e-5, Residual: b.residual,
				In: d, Out: d, Heads: 2, HeadDim: 4, Causal: b.causal},
			&check.Layer{Name: prefix + "ffn", Block: "Block", Instance: i, Sub: "ffn", Pos: pos(8, 5),
				Kind: "ffn", Norm: b.norm, Placement: b.placement, Eps: 1e-5, Residual: b.residual,
				In: d, Out: d, Hidden: 12, Act: b.act})
	}
	return m
}

func lowered(t *testing.T, m *check.Model) *ir.Program {
	t.Helper()
	p, err := lower.Lower(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(p); err != nil {
		t.Fatalf("lowered program does not verify: %v", err)
	}
	return p
}

func printed(t *testing.T, p *ir.Program) string {
	t.Helper()
	var b bytes.Buffer
	if err := ir.Print(&b, p); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestLowerOneBlock(t *testing.T) {
	m := newModel("Tiny", "learned", "rms", false, blockOpts{norm: "rms", placement: "pre", causal: true, act: "swiglu", residual: true})
	p := lowered(t, m)
	if got := printed(t, p); got != oneBlockForward {
		t.Errorf("Print after Lower:\n%s\nwant:\n%s", got, oneBlockForward)
	}
	if err := autodiff.Differentiate(p); err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(p); err != nil {
		t.Fatalf("differentiated program does not verify: %v", err)
	}
	want := oneBlockForward + "backward:\n" + oneBlockBackward
	if got := printed(t, p); got != want {
		t.Errorf("Print after Differentiate:\n%s\nwant:\n%s", got, want)
	}
}

const oneBlockForward = `model Tiny
const d dim 8
const eps real 1e-05
sizes batch=2 seq=6 vocab=11 d=8
inputs:
  %0 tokens [T,1] i32
  %1 targets [T,1] i32
params:
  @embed.tokens [11,8] normal(0.02) decay                ; tiny.bf:4:3
  @embed.pos [6,8] normal(0.01) decay                    ; tiny.bf:4:3
  @blocks.0.attn.norm.scale [8] as [1,8] ones            ; tiny.bf:7:5
  @blocks.0.attn.qkv [8,24] normal(0.02) decay           ; tiny.bf:7:5
  @blocks.0.attn.out [8,8] normal(0.014142135623730949) decay ; tiny.bf:7:5
  @blocks.0.ffn.norm.scale [8] as [1,8] ones             ; tiny.bf:8:5
  @blocks.0.ffn.up [8,24] normal(0.02) decay             ; tiny.bf:8:5
  @blocks.0.ffn.down [12,8] normal(0.014142135623730949) decay ; tiny.bf:8:5
  @norm.scale [8] as [1,8] ones                          ; tiny.bf:20:3
  @head.weight [8,11] normal(0.02) decay                 ; tiny.bf:21:3
forward:
  %3 [T,8] = embed %0, @embed.tokens                     ; embed  tiny.bf:4:3
  %5 [T,8] = addpos %3, @embed.pos                       ; embed  tiny.bf:4:3
  %7 [T,8], %8 [T,1] = rmsnorm %5, @blocks.0.attn.norm.scale  eps=1e-05 ; blocks.0.attn  tiny.bf:7:5
  %10 [T,24] = matmul %7, @blocks.0.attn.qkv             ; blocks.0.attn  tiny.bf:7:5
  %11 [T,8], %12 [T,2] = attention %10  heads=2 head_dim=4 causal ; blocks.0.attn  tiny.bf:7:5
  %14 [T,8] = matmul %11, @blocks.0.attn.out             ; blocks.0.attn  tiny.bf:7:5
  %15 [T,8] = add %5, %14                                ; blocks.0.attn  tiny.bf:7:5
  %17 [T,8], %18 [T,1] = rmsnorm %15, @blocks.0.ffn.norm.scale  eps=1e-05 ; blocks.0.ffn  tiny.bf:8:5
  %20 [T,24] = matmul %17, @blocks.0.ffn.up              ; blocks.0.ffn  tiny.bf:8:5
  %21 [T,12] = glu %20  act=silu                         ; blocks.0.ffn  tiny.bf:8:5
  %23 [T,8] = matmul %21, @blocks.0.ffn.down             ; blocks.0.ffn  tiny.bf:8:5
  %24 [T,8] = add %15, %23                               ; blocks.0.ffn  tiny.bf:8:5
  %26 [T,8], %27 [T,1] = rmsnorm %24, @norm.scale  eps=1e-05 ; norm  tiny.bf:20:3
  %29 [T,11] = matmul %26, @head.weight                  ; head  tiny.bf:21:3
  ; infer ends: logits %29
  %30 [1,1], %31 [T,1] = cross_entropy %29, %1           ; loss  tiny.bf:22:3
  ; loss %30
`

const oneBlockBackward = `  ; seed %42 [1,1] = 1
  %43 += cross_entropy_grad %42, %29, %31, %1            ; loss  tiny.bf:22:3
  @grad/head.weight += matmul %26, %43  transA           ; head  tiny.bf:21:3
  %44 += matmul %43, @head.weight  transB                ; head  tiny.bf:21:3
  %45, @grad/norm.scale += rmsnorm_grad %44, %24, @norm.scale, %27 ; norm  tiny.bf:20:3
  %46 += accum %45                                       ; blocks.0.ffn  tiny.bf:8:5
  %47 += accum %45                                       ; blocks.0.ffn  tiny.bf:8:5
  @grad/blocks.0.ffn.down += matmul %21, %47  transA     ; blocks.0.ffn  tiny.bf:8:5
  %48 += matmul %47, @blocks.0.ffn.down  transB          ; blocks.0.ffn  tiny.bf:8:5
  %49 += glu_grad %48, %20  act=silu                     ; blocks.0.ffn  tiny.bf:8:5
  @grad/blocks.0.ffn.up += matmul %17, %49  transA       ; blocks.0.ffn  tiny.bf:8:5
  %50 += matmul %49, @blocks.0.ffn.up  transB            ; blocks.0.ffn  tiny.bf:8:5
  %46, @grad/blocks.0.ffn.norm.scale += rmsnorm_grad %50, %15, @blocks.0.ffn.norm.scale, %18 ; blocks.0.ffn  tiny.bf:8:5
  %51 += accum %46                                       ; blocks.0.attn  tiny.bf:7:5
  %52 += accum %46                                       ; blocks.0.attn  tiny.bf:7:5
  @grad/blocks.0.attn.out += matmul %11, %52  transA     ; blocks.0.attn  tiny.bf:7:5
  %53 += matmul %52, @blocks.0.attn.out  transB          ; blocks.0.attn  tiny.bf:7:5
  %54 += attention_grad %53, %10, %11, %12  heads=2 head_dim=4 causal ; blocks.0.attn  tiny.bf:7:5
  @grad/blocks.0.attn.qkv += matmul %7, %54  transA      ; blocks.0.attn  tiny.bf:7:5
  %55 += matmul %54, @blocks.0.attn.qkv  transB          ; blocks.0.attn  tiny.bf:7:5
  %51, @grad/blocks.0.attn.norm.scale += rmsnorm_grad %55, %5, @blocks.0.attn.norm.scale, %8 ; blocks.0.attn  tiny.bf:7:5
  @grad/embed.pos += addpos_grad %51                     ; embed  tiny.bf:4:3
  %56 += accum %51                                       ; embed  tiny.bf:4:3
  @grad/embed.tokens += embed_grad %56, %0               ; embed  tiny.bf:4:3
`

// paramList formats every parameter as "name [shape] init decay".
func paramList(p *ir.Program) string {
	var b strings.Builder
	for _, v := range p.Params {
		fmt.Fprintf(&b, "%s %v %v", v.Name, v.Shape, v.Type())
		switch v.Init.Kind {
		case "normal":
			fmt.Fprintf(&b, " normal(%.6g)", v.Init.Std)
		default:
			b.WriteString(" " + v.Init.Kind)
		}
		if v.Decay {
			b.WriteString(" decay")
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestLowerParams(t *testing.T) {
	// Two blocks, post layer norm, plain gelu ffn, no positions, tied head.
	m := newModel("Post", "none", "layer", true,
		blockOpts{norm: "layer", placement: "post", act: "gelu", residual: true},
		blockOpts{norm: "layer", placement: "post", act: "reglu", residual: true})
	p := lowered(t, m)
	want := `embed.tokens [11 8] [11,8] normal(0.02) decay
blocks.0.attn.qkv [8 24] [8,24] normal(0.02) decay
blocks.0.attn.out [8 8] [8,8] normal(0.01) decay
blocks.0.attn.norm.scale [8] [1,8] ones
blocks.0.attn.norm.bias [8] [1,8] zeros
blocks.0.ffn.up [8 12] [8,12] normal(0.02) decay
blocks.0.ffn.down [12 8] [12,8] normal(0.01) decay
blocks.0.ffn.norm.scale [8] [1,8] ones
blocks.0.ffn.norm.bias [8] [1,8] zeros
blocks.1.attn.qkv [8 24] [8,24] normal(0.02) decay
blocks.1.attn.out [8 8] [8,8] normal(0.01) decay
blocks.1.attn.norm.scale [8] [1,8] ones
blocks.1.attn.norm.bias [8] [1,8] zeros
blocks.1.ffn.up [8 24] [8,24] normal(0.02) decay
blocks.1.ffn.down [12 8] [12,8] normal(0.01) decay
blocks.1.ffn.norm.scale [8] [1,8] ones
blocks.1.ffn.norm.bias [8] [1,8] zeros
norm.scale [8] [1,8] ones
norm.bias [8] [1,8] zeros
`
	if got := paramList(p); got != want {
		t.Errorf("params:\n%s\nwant:\n%s", got, want)
	}
	// The tied head multiplies by the token table, transposed.
	head := p.Forward[p.NInfer-1]
	if head.Op != ir.OpMatMul || !head.Attrs.TransB || head.Args[1] != p.Params[0] || head.Outs[0] != p.Logits {
		t.Errorf("tied head: %v %+v", head.Op, head.Attrs)
	}
	// Post placement: prim, residual add, then the norm.
	var ops []string
	for _, in := range p.Forward {
		if in.Layer == "blocks.0.attn" {
			ops = append(ops, in.Op.String())
		}
	}
	if got, want := strings.Join(ops, " "), "matmul attention matmul add layernorm"; got != want {
		t.Errorf("post attention ops %q, want %q", got, want)
	}
}

func TestLowerVariants(t *testing.T) {
	// No norms, no residual: only the primitives.
	m := newModel("Bare", "none", "none", false, blockOpts{norm: "none", placement: "pre", act: "sqrelu"})
	p := lowered(t, m)
	var ops []string
	for _, in := range p.Forward {
		ops = append(ops, in.Op.String())
	}
	if got, want := strings.Join(ops, " "), "embed matmul attention matmul matmul act matmul matmul cross_entropy"; got != want {
		t.Errorf("ops %q, want %q", got, want)
	}
	if p.NInfer != len(p.Forward)-1 || p.Forward[p.NInfer-1].Outs[0] != p.Logits {
		t.Errorf("NInfer %d does not end at the logits", p.NInfer)
	}
	for _, in := range p.Forward {
		if !in.Pos.IsValid() || in.Layer == "" {
			t.Errorf("%v without position or layer", in.Op)
		}
		for _, o := range in.Outs {
			if o.Pos != in.Pos {
				t.Errorf("%v: result position %v, instruction %v", in.Op, o.Pos, in.Pos)
			}
		}
	}

	// An ffn that changes the width, without residual, then an untied head.
	m = newModel("Narrow", "learned", "rms", false, blockOpts{norm: "rms", placement: "pre", act: "relu", residual: true})
	m.Layers = append(m.Layers, &check.Layer{Name: "blocks.1.proj", Block: "Proj", Instance: 1, Sub: "proj", Pos: pos(9, 5),
		Kind: "ffn", Norm: "rms", Placement: "pre", Eps: 1e-6, In: 8, Out: 5, Hidden: 7, Act: "gelu_tanh"})
	p = lowered(t, m)
	if got := p.Params[len(p.Params)-1]; got.Name != "head.weight" || got.Rows.N != 5 || got.Cols != 11 {
		t.Errorf("head %s %v", got.Name, got.Type())
	}
	// Two blocks: output projections get 0.02/sqrt(2*2).
	for _, v := range p.Params {
		if strings.HasSuffix(v.Name, ".down") || strings.HasSuffix(v.Name, ".out") {
			if v.Init.Std != 0.01 {
				t.Errorf("%s: std %v, want 0.01", v.Name, v.Init.Std)
			}
		}
	}
}

func TestLowerErrors(t *testing.T) {
	for _, c := range []struct {
		name   string
		modify func(m *check.Model)
		want   string
	}{
		{"residual-width", func(m *check.Model) { m.Layers[1].Out = 6 }, "blocks.0.ffn: a residual needs equal input and output widths, got 8 and 6"},
		{"input-width", func(m *check.Model) { m.Layers[1].In = 6 }, "blocks.0.ffn: input width 8, the layer expects 6"},
		{"kind", func(m *check.Model) { m.Layers[0].Kind = "conv" }, `unknown layer kind "conv"`},
		{"moe-sizes", func(m *check.Model) {
			m.Layers[1].Kind, m.Layers[1].Route = "moe", check.Route{Rule: "top_k", K: 1, Capacity: 1, Group: "batch"}
		}, "blocks.0.ffn: experts=0 hidden=12, want both positive"},
		{"moe-ec-aux", func(m *check.Model) {
			m.Layers[1].Kind, m.Layers[1].Experts = "moe", 4
			m.Layers[1].Route = check.Route{Rule: "expert_choice", Capacity: 1, Group: "batch", AuxWeight: 0.01}
		}, "blocks.0.ffn: expert_choice routing with k=0 aux=0.01: only top_k has those"},
		{"moe-rule", func(m *check.Model) {
			m.Layers[1].Kind, m.Layers[1].Experts = "moe", 4
			m.Layers[1].Route = check.Route{Rule: "hash", Capacity: 1, Group: "batch"}
		}, `blocks.0.ffn: moe: unknown routing rule "hash"`},
		{"moe-k", func(m *check.Model) {
			m.Layers[1].Kind, m.Layers[1].Experts = "moe", 4
			m.Layers[1].Route = check.Route{Rule: "top_k", K: 5, Capacity: 1, Group: "batch"}
		}, "top_k with k=5 and 4 experts"},
		{"moe-width", func(m *check.Model) {
			m.Layers[1].Kind, m.Layers[1].Experts, m.Layers[1].Residual, m.Layers[1].Out = "moe", 4, false, 6
			m.Layers[1].Route = check.Route{Rule: "top_k", K: 1, Capacity: 1, Group: "batch"}
		}, "blocks.0.ffn: a moe layer keeps the width, got 8 in and 6 out"},
		{"norm", func(m *check.Model) { m.Layers[0].Norm = "batch" }, `blocks.0.attn: unknown norm "batch"`},
		{"act", func(m *check.Model) { m.Layers[1].Act = "tanh" }, `unknown activation "tanh"`},
		{"heads", func(m *check.Model) { m.Layers[0].Heads = 0 }, "heads=0 head_dim=4"},
		{"tied-width", func(m *check.Model) {
			m.Layers[1].Residual, m.Layers[1].Out = false, 6
		}, "head: matmul: inner dimensions differ: op(A) is [T,6], op(B) is [8,11]"},
		{"sizes", func(m *check.Model) { m.Vocab = 0 }, "vocab=0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := newModel("Bad", "none", "none", true, blockOpts{norm: "rms", placement: "pre", act: "gelu", residual: true})
			c.modify(m)
			_, err := lower.Lower(m)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestPrintDeterministic(t *testing.T) {
	build := func() string {
		m := newModel("Det", "learned", "layer", false,
			blockOpts{norm: "layer", placement: "pre", causal: true, act: "geglu", residual: true},
			blockOpts{norm: "rms", placement: "post", act: "silu", residual: true})
		p := lowered(t, m)
		if err := autodiff.Differentiate(p); err != nil {
			t.Fatal(err)
		}
		a, b := printed(t, p), printed(t, p)
		if a != b {
			t.Fatalf("printing twice differs")
		}
		return a
	}
	if build() != build() {
		t.Errorf("lowering and printing twice differs")
	}
}
