package ir_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/bfcdev/bfc/compiler/autodiff"
	"github.com/bfcdev/bfc/compiler/ir"
	"github.com/bfcdev/bfc/lang/source"
)

// moeProg is a small model with two moe layers (expert choice, then gated
// top-2): embed, moe, moe, head, and the loss CE + aux0 + aux1.
type moeProg struct {
	p        *ir.Program
	moe      [2]*ir.Instr
	x        *ir.Value
	wg, w1   *ir.Value
	ceAdd    *ir.Instr
	aux0Attr *ir.MoEAttrs
}

func newMoE(t *testing.T, diff bool) *moeProg {
	t.Helper()
	const d, e, h, v = 4, 3, 5, 7
	p := &ir.Program{Name: "sparse", MaxBatch: 2, MaxSeq: 4, Vocab: v, D: d}
	b := ir.Builder{P: p, Layer: "embed", Pos: source.Pos{File: "sparse.bf", Line: 3, Col: 5}}
	op := func(o ir.Op, a ir.Attrs, args ...*ir.Value) []*ir.Value {
		outs, err := b.Op(o, a, "v", args...)
		if err != nil {
			t.Fatal(err)
		}
		return outs
	}
	normal := ir.Init{Kind: "normal", Std: 0.02}
	m := &moeProg{p: p}
	p.Tokens = p.NewValue("tokens", ir.KindInput, ir.Int32, ir.TokenRows, 1, b.Pos)
	p.Targets = p.NewValue("targets", ir.KindInput, ir.Int32, ir.TokenRows, 1, b.Pos)
	table := p.NewParam("embed.tokens", []int{v, d}, v, d, normal, true, b.Pos)
	x := op(ir.OpEmbed, ir.Attrs{}, p.Tokens, table)[0]
	m.x = x
	attrs := []*ir.MoEAttrs{
		{Name: "blocks.0.moe", Workspace: 0, Experts: e, Hidden: h, Act: "gelu", Rule: ir.RuleExpertChoice, Capacity: 1, Group: "position"},
		{Name: "blocks.1.moe", Workspace: 1, Experts: e, Hidden: h, Act: "silu", Gated: true, Rule: ir.RuleTopK, K: 2,
			Capacity: 1.25, Group: "batch", AuxWeight: 0.01, ZWeight: 0.001},
	}
	m.aux0Attr = attrs[0]
	var aux []*ir.Value
	for i, a := range attrs {
		b.Layer = a.Name
		wg := p.NewParam(a.Name+".router", []int{d, e}, d, e, normal, false, b.Pos)
		w1 := p.NewParam(a.Name+".experts.up", []int{e, d, a.UpCols()}, e*d, a.UpCols(), normal, true, b.Pos)
		w2 := p.NewParam(a.Name+".experts.down", []int{e, h, d}, e*h, d, normal, true, b.Pos)
		if i == 0 {
			m.wg, m.w1 = wg, w1
		}
		outs := op(ir.OpMoE, ir.Attrs{MoE: a}, x, wg, w1, w2)
		m.moe[i] = p.Forward[len(p.Forward)-1]
		x = op(ir.OpAdd, ir.Attrs{}, x, outs[0])[0]
		aux = append(aux, outs[1])
	}
	b.Layer = "head"
	w := p.NewParam("head.weight", []int{d, v}, d, v, normal, true, b.Pos)
	p.Logits = op(ir.OpMatMul, ir.Attrs{}, x, w)[0]
	p.NInfer = len(p.Forward)
	b.Layer = "loss"
	p.CE = op(ir.OpCrossEntropy, ir.Attrs{}, p.Logits, p.Targets)[0]
	p.Loss = op(ir.OpAdd, ir.Attrs{}, p.CE, aux[0])[0]
	m.ceAdd = p.Forward[len(p.Forward)-1]
	p.Loss = op(ir.OpAdd, ir.Attrs{}, p.Loss, aux[1])[0]
	if diff {
		if err := autodiff.Differentiate(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := ir.Verify(p); err != nil {
		t.Fatalf("the unbroken program does not verify: %v", err)
	}
	return m
}

func TestMoEGradOuts(t *testing.T) {
	for _, op := range ir.Ops() {
		want := 1
		if op == ir.OpMoE {
			want = 2
		}
		if got := op.GradOuts(); got != want || got > op.NumOuts() {
			t.Errorf("%v: GradOuts %d, want %d", op, got, want)
		}
	}
}

func TestMoEPrint(t *testing.T) {
	m := newMoE(t, true)
	var buf bytes.Buffer
	if err := ir.Print(&buf, m.p); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"  @blocks.0.moe.router [4,3] normal(0.02)  ",
		"  @blocks.0.moe.experts.up [3,4,5] as [12,5] normal(0.02) decay ",
		"  @blocks.1.moe.experts.up [3,4,10] as [12,10] normal(0.02) decay ",
		"  @blocks.1.moe.experts.down [3,5,4] as [15,4] normal(0.02) decay ",
		" = moe %3, @blocks.0.moe.router, @blocks.0.moe.experts.up, @blocks.0.moe.experts.down  experts=3 hidden=5 act=gelu route=expert_choice(capacity=1, group=position) ws=0 ; blocks.0.moe",
		"  experts=3 hidden=5 act=silu gated route=top_k(k=2, capacity=1.25, group=batch, aux=0.01, z=0.001) ws=1 ",
		"  ; cross-entropy %",
		" += moe_grad %",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Print lacks %q:\n%s", want, out)
		}
	}
}

func TestMoEVerifyBroken(t *testing.T) {
	for _, c := range []struct {
		name   string
		diff   bool
		break_ func(t *testing.T, m *moeProg)
		want   string
	}{
		{"no-attrs", false, func(t *testing.T, m *moeProg) { m.moe[0].Attrs.MoE = nil }, "forward[1] moe: no moe attributes"},
		{"rule", false, func(t *testing.T, m *moeProg) { m.aux0Attr.Rule = "hash" }, `forward[1] moe: unknown routing rule "hash"`},
		{"group", false, func(t *testing.T, m *moeProg) { m.aux0Attr.Group = "all" }, `unknown routing group "all"`},
		{"act", false, func(t *testing.T, m *moeProg) { m.aux0Attr.Act = "swiglu" }, `unknown expert activation "swiglu"`},
		{"capacity", false, func(t *testing.T, m *moeProg) { m.aux0Attr.Capacity = 0 }, "capacity=0, want a positive number"},
		{"weights", false, func(t *testing.T, m *moeProg) { m.aux0Attr.ZWeight = -1 }, "aux=0 z=-1, want weights >= 0"},
		{"ec-k", false, func(t *testing.T, m *moeProg) { m.aux0Attr.K = 2 }, "expert_choice with k=2 aux=0"},
		{"topk-k", false, func(t *testing.T, m *moeProg) { m.moe[1].Attrs.MoE.K = 4 }, "top_k with k=4 and 3 experts"},
		{"experts", false, func(t *testing.T, m *moeProg) { m.aux0Attr.Experts = 4 },
			"forward[1] moe: router is [4,3], want [4,4]"},
		{"gated", false, func(t *testing.T, m *moeProg) { m.aux0Attr.Gated = true },
			"forward[1] moe: experts.up is [12,5], want [12,10]"},
		{"x-static", false, func(t *testing.T, m *moeProg) { m.moe[0].Args[0] = m.wg }, "forward[1] moe: x is [4,3], want T rows"},
		{"aux-type", false, func(t *testing.T, m *moeProg) { m.moe[0].Outs[1].Cols = 2 }, "forward[1] moe: result 1 is [1,2], want [1,1]"},
		{"workspace-order", false, func(t *testing.T, m *moeProg) { m.aux0Attr.Workspace = 1 },
			"forward[1] moe: workspace 1, want 0 (the moe layers in order)"},
		{"ce", false, func(t *testing.T, m *moeProg) { m.p.CE = m.x }, "CE %3 is a [T,4] temp, want a [1,1] temp"},
		{"grad-attrs", true, func(t *testing.T, m *moeProg) {
			in := m.moeGrad(t, 0)
			a := *in.Attrs.MoE
			in.Attrs.MoE = &a
		}, "moe_grad: attributes differ from those of the forward moe of workspace 0"},
		{"grad-workspace", true, func(t *testing.T, m *moeProg) {
			in := m.moeGrad(t, 0)
			in.Attrs.MoE = &ir.MoEAttrs{Workspace: 5, Experts: 3, Hidden: 5, Act: "gelu", Rule: ir.RuleExpertChoice, Capacity: 1, Group: "batch"}
		}, "moe_grad: workspace 5 belongs to no forward moe"},
		{"grad-args", true, func(t *testing.T, m *moeProg) {
			in := m.moeGrad(t, 1)
			in.Args[3] = m.wg
		}, "moe_grad: argument 3 is @blocks.0.moe.router, the forward moe of workspace 1 read @blocks.1.moe.router"},
		{"grad-shape", true, func(t *testing.T, m *moeProg) {
			in := m.moeGrad(t, 0)
			in.Outs[1], in.Outs[2] = in.Outs[2], in.Outs[1]
		}, "moe_grad: drouter is [12,5], want [4,3]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := newMoE(t, c.diff)
			c.break_(t, m)
			err := ir.Verify(m.p)
			if err == nil {
				t.Fatalf("Verify passed, want an error containing %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("Verify:\n%v\nwant an error containing %q", err, c.want)
			}
		})
	}
}

// moeGrad returns the moe_grad of workspace ws.
func (m *moeProg) moeGrad(t *testing.T, ws int) *ir.Instr {
	for _, in := range m.p.Backward {
		if in.Op == ir.OpMoEGrad && in.Attrs.MoE.Workspace == ws {
			return in
		}
	}
	t.Fatalf("no moe_grad of workspace %d", ws)
	return nil
}

func TestMoEList(t *testing.T) {
	m := newMoE(t, false)
	got := m.p.MoE()
	if len(got) != 2 || got[0] != m.moe[0] || got[1] != m.moe[1] {
		t.Errorf("MoE() = %v", got)
	}
}
