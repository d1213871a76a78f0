package ir_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/bfcdev/bfc/compiler/autodiff"
	"github.com/bfcdev/bfc/compiler/ir"
	"github.com/bfcdev/bfc/lang/source"
)

// tiny is a small valid model: embed, rmsnorm, attention (2 heads of 2),
// residual, head, cross-entropy; differentiated when diff is set.
type tiny struct {
	p                       *ir.Program
	table, g, wqkv, wout, w *ir.Value
	x, h, rstd, qkv, a, lse *ir.Value
	f, y                    *ir.Value
	embed, norm, mqkv, attn *ir.Instr
	mout, add, head, ce     *ir.Instr
}

func newTiny(t *testing.T, diff bool) *tiny {
	t.Helper()
	p := &ir.Program{Name: "tiny", MaxBatch: 2, MaxSeq: 4, Vocab: 7, D: 4}
	b := ir.Builder{P: p, Layer: "blocks.0.attn", Pos: source.Pos{File: "tiny.bf", Line: 3, Col: 5}}
	op := func(op ir.Op, a ir.Attrs, args ...*ir.Value) ([]*ir.Value, *ir.Instr) {
		outs, err := b.Op(op, a, "v", args...)
		if err != nil {
			t.Fatal(err)
		}
		return outs, p.Forward[len(p.Forward)-1]
	}
	normal := ir.Init{Kind: "normal", Std: 0.02}
	m := &tiny{p: p}
	p.Tokens = p.NewValue("tokens", ir.KindInput, ir.Int32, ir.TokenRows, 1, b.Pos)
	p.Targets = p.NewValue("targets", ir.KindInput, ir.Int32, ir.TokenRows, 1, b.Pos)
	m.table = p.NewParam("embed.tokens", []int{7, 4}, 7, 4, normal, true, b.Pos)
	m.g = p.NewParam("blocks.0.attn.norm.scale", []int{4}, 1, 4, ir.Init{Kind: "ones"}, false, b.Pos)
	m.wqkv = p.NewParam("blocks.0.attn.qkv", []int{4, 12}, 4, 12, normal, true, b.Pos)
	m.wout = p.NewParam("blocks.0.attn.out", []int{4, 4}, 4, 4, normal, true, b.Pos)
	m.w = p.NewParam("head.weight", []int{4, 7}, 4, 7, normal, true, b.Pos)
	var outs []*ir.Value
	outs, m.embed = op(ir.OpEmbed, ir.Attrs{}, p.Tokens, m.table)
	m.x = outs[0]
	outs, m.norm = op(ir.OpRMSNorm, ir.Attrs{Eps: 1e-5}, m.x, m.g)
	m.h, m.rstd = outs[0], outs[1]
	outs, m.mqkv = op(ir.OpMatMul, ir.Attrs{}, m.h, m.wqkv)
	m.qkv = outs[0]
	outs, m.attn = op(ir.OpAttention, ir.Attrs{Heads: 2, HeadDim: 2, Causal: true}, m.qkv)
	m.a, m.lse = outs[0], outs[1]
	outs, m.mout = op(ir.OpMatMul, ir.Attrs{}, m.a, m.wout)
	m.f = outs[0]
	outs, m.add = op(ir.OpAdd, ir.Attrs{}, m.x, m.f)
	m.y = outs[0]
	outs, m.head = op(ir.OpMatMul, ir.Attrs{}, m.y, m.w)
	p.Logits = outs[0]
	p.NInfer = len(p.Forward)
	outs, m.ce = op(ir.OpCrossEntropy, ir.Attrs{}, p.Logits, p.Targets)
	p.Loss = outs[0]
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

// backwardInstr returns the first backward instruction with op.
func (m *tiny) backwardInstr(t *testing.T, op ir.Op) *ir.Instr {
	for _, in := range m.p.Backward {
		if in.Op == op {
			return in
		}
	}
	t.Fatalf("no %v in the backward list", op)
	return nil
}

func TestVerifyBroken(t *testing.T) {
	for _, c := range []struct {
		name   string
		diff   bool
		break_ func(t *testing.T, m *tiny)
		want   string
	}{
		{"matmul-inner", false, func(t *testing.T, m *tiny) {
			m.mqkv.Args[1] = m.p.NewParam("bad", []int{5, 12}, 5, 12, ir.Init{Kind: "zeros"}, true, source.Pos{})
		}, "forward[2] matmul: inner dimensions differ: op(A) is [T,4], op(B) is [5,12]"},
		{"matmul-trans", false, func(t *testing.T, m *tiny) { m.head.Attrs.TransB = true },
			"forward[6] matmul: inner dimensions differ: op(A) is [T,4], op(B) is [7,4]"},
		{"matmul-result", false, func(t *testing.T, m *tiny) { m.f.Cols = 5 },
			"forward[4] matmul: result 0 is [T,5], want [T,4]"},
		{"attention-width", false, func(t *testing.T, m *tiny) { m.attn.Attrs.Heads = 3 },
			"forward[3] attention: qkv has 12 columns, want 3·heads·head_dim = 18"},
		{"attention-static", false, func(t *testing.T, m *tiny) { m.attn.Args[0] = m.wqkv },
			"forward[3] attention: qkv is [4,12], want T rows"},
		{"norm-scale", false, func(t *testing.T, m *tiny) { m.norm.Args[1] = m.wout },
			"forward[1] rmsnorm: scale is [4,4], want [1,4]"},
		{"act-name", false, func(t *testing.T, m *tiny) {
			m.p.Forward[5] = &ir.Instr{Op: ir.OpAct, Args: []*ir.Value{m.f}, Outs: []*ir.Value{m.y}, Attrs: ir.Attrs{Act: "tanh"}}
		},
			`forward[5] act: unknown activation "tanh"`},
		{"use-before-def", false, func(t *testing.T, m *tiny) {
			f := m.p.Forward
			f[1], f[2] = f[2], f[1]
		}, "forward[1] matmul: %8 used before it is defined"},
		{"defined-twice", false, func(t *testing.T, m *tiny) {
			m.p.Forward = append(m.p.Forward, m.embed)
		}, "forward[8] embed: %7 defined twice"},
		{"backward-op-forward", false, func(t *testing.T, m *tiny) {
			m.p.Forward[5] = &ir.Instr{Op: ir.OpAccum, Args: []*ir.Value{m.f}, Outs: []*ir.Value{m.y}}
		}, "forward[5] accum: backward op in the forward list"},
		{"acc-forward", false, func(t *testing.T, m *tiny) { m.head.Attrs.Acc = true },
			"forward[6] matmul: acc in the forward list"},
		{"arg-count", false, func(t *testing.T, m *tiny) { m.add.Args = m.add.Args[:1] },
			"forward[5] add: 1 arguments and 1 results, want 2 and 1"},
		{"invalid-op", false, func(t *testing.T, m *tiny) { m.add.Op = 99 }, "forward[5] op?: invalid op 99"},
		{"foreign-value", false, func(t *testing.T, m *tiny) {
			m.add.Args[1] = &ir.Value{ID: 3, Name: "stray", Kind: ir.KindTemp, Rows: ir.TokenRows, Cols: 4}
		}, "forward[5] add: refers to a value that is not in the program"},
		{"arg-is-result", false, func(t *testing.T, m *tiny) { m.add.Outs[0] = m.x },
			"forward[5] add: %7 is both an argument and a result"},
		{"result-kind", false, func(t *testing.T, m *tiny) { m.add.Outs[0] = m.wout },
			"forward[5] add: result @blocks.0.attn.out is a param, want a temp"},
		{"value-id", false, func(t *testing.T, m *tiny) { m.p.Values[3].ID = 9 }, "value 3 has ID 9"},
		{"param-shape", false, func(t *testing.T, m *tiny) { m.wout.Shape = []int{4, 3} },
			"param @blocks.0.attn.out: shape [4 3] does not hold [4,4]"},
		{"param-init", false, func(t *testing.T, m *tiny) { m.wout.Init = ir.Init{Kind: "normal"} },
			"param @blocks.0.attn.out: normal init with std 0"},
		{"param-unlisted", false, func(t *testing.T, m *tiny) { m.p.Params = m.p.Params[:4] },
			"param @head.weight not listed in Params"},
		{"param-token-rows", false, func(t *testing.T, m *tiny) { m.wout.Rows = ir.TokenRows },
			"param @blocks.0.attn.out has T rows"},
		{"tokens-type", false, func(t *testing.T, m *tiny) { m.p.Tokens.Cols = 2 },
			"tokens %0 is a [T,2] i32 input, want an input [T,1] i32"},
		{"float-int", false, func(t *testing.T, m *tiny) { m.f.DType = ir.Int32 },
			"%13: a temp of type [T,4] i32; only inputs hold i32"},
		{"ninfer", false, func(t *testing.T, m *tiny) { m.p.NInfer-- },
			"logits %15 not defined by the first 6 (NInfer) forward instructions"},
		{"loss-type", false, func(t *testing.T, m *tiny) { m.p.Loss = m.p.Logits }, "loss %15 is [T,7], want [1,1]"},
		{"no-loss", false, func(t *testing.T, m *tiny) { m.p.Loss = nil }, "no loss"},

		{"backward-matmul-acc", true, func(t *testing.T, m *tiny) {
			m.backwardInstr(t, ir.OpMatMul).Attrs.Acc = false
		}, "matmul without acc in the backward list"},
		{"forward-op-backward", true, func(t *testing.T, m *tiny) {
			m.backwardInstr(t, ir.OpAccum).Op = ir.OpAct
		}, "act: forward op in the backward list"},
		{"backward-writes-activation", true, func(t *testing.T, m *tiny) {
			m.backwardInstr(t, ir.OpAttentionGrad).Outs[0] = m.h
		}, "attention_grad: result %8 is a temp that is not a gradient"},
		{"backward-writes-dloss", true, func(t *testing.T, m *tiny) {
			in := m.backwardInstr(t, ir.OpAccum)
			in.Outs[0] = m.p.DLoss
		}, "accum: writes DLoss"},
		{"grad-read-before-write", true, func(t *testing.T, m *tiny) {
			b := m.p.Backward
			b[0], b[1] = b[1], b[0]
		}, "backward[0] matmul: gradient %24 read before it is written"},
		{"backward-shape", true, func(t *testing.T, m *tiny) {
			in := m.backwardInstr(t, ir.OpRMSNormGrad)
			in.Args[3], in.Args[1] = in.Args[1], in.Args[3]
		}, "backward[10] rmsnorm_grad: dy is [T,4], want [T,1]"},
		{"attention-grad-lse", true, func(t *testing.T, m *tiny) {
			m.backwardInstr(t, ir.OpAttentionGrad).Args[3] = m.rstd
		}, "attention_grad: lse is [T,1], want [T,2]"},
		{"grad-kind", true, func(t *testing.T, m *tiny) { m.w.Grad.GradOf = m.wout },
			"@grad/head.weight: gradient of @blocks.0.attn.out, whose Grad is @grad/blocks.0.attn.out"},
		{"no-dloss", true, func(t *testing.T, m *tiny) { m.p.DLoss = nil }, "backward instructions without DLoss"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := newTiny(t, c.diff)
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

func TestVerifyBoundsErrors(t *testing.T) {
	m := newTiny(t, false)
	for _, in := range m.p.Forward {
		in.Attrs.Acc = true
	}
	m.p.Forward = append(m.p.Forward, m.p.Forward...)
	err := ir.Verify(m.p)
	if err == nil {
		t.Fatal("no error")
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 11 || !strings.HasSuffix(err.Error(), "too many errors") {
		t.Errorf("%d lines:\n%v", n, err)
	}
}

// TestPrintFragment prints a differentiated fragment: a float input, no
// logits, a non-scalar loss, attributes.
func TestPrintFragment(t *testing.T) {
	p := &ir.Program{Name: "frag"}
	b := ir.Builder{P: p, Layer: "f"}
	x := p.NewValue("x", ir.KindInput, ir.Float, ir.TokenRows, 4, b.Pos)
	a := p.NewParam("A", []int{2, 2, 2}, 2, 4, ir.Init{Kind: "normal", Std: 1}, false, b.Pos)
	y, err := b.Op(ir.OpMatMul, ir.Attrs{TransB: true}, "y", x, a)
	if err != nil {
		t.Fatal(err)
	}
	b.Pos = source.Pos{File: "f.bf", Line: 2, Col: 1}
	z, err := b.Op(ir.OpAct, ir.Attrs{Act: "gelu"}, "z", y[0])
	if err != nil {
		t.Fatal(err)
	}
	p.Loss = z[0]
	p.NInfer = len(p.Forward)
	if err := autodiff.Differentiate(p); err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(p); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := ir.Print(&buf, p); err != nil {
		t.Fatal(err)
	}
	want := `model frag
sizes batch=0 seq=0 vocab=0 d=0
inputs:
  %0 x [T,4]
params:
  @A [2,2,2] as [2,4] normal(1)
forward:
  %2 [T,2] = matmul %0, @A  transB                       ; f
  %3 [T,2] = act %2  act=gelu                            ; f  f.bf:2:1
  ; loss %3
backward:
  ; seed %5 [T,2] = 1
  %6 += act_grad %5, %2  act=gelu                        ; f  f.bf:2:1
  @grad/A += matmul %6, %0  transA                       ; f
  %7 += matmul %6, @A                                    ; f
`
	if got := buf.String(); got != want {
		t.Errorf("Print:\n%s\nwant:\n%s", got, want)
	}
}
