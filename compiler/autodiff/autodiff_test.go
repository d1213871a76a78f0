package autodiff_test

import (
	"strings"
	"testing"

	"github.com/bfcdev/bfc/compiler/autodiff"
	"github.com/bfcdev/bfc/compiler/ir"
)

// TestRulesComplete: every op is either differentiable (it has a rule) or a
// backward op, never both and never neither.
func TestRulesComplete(t *testing.T) {
	for _, op := range ir.Ops() {
		_, hasRule := autodiff.Rules[op]
		switch {
		case hasRule && op.IsBackward():
			t.Errorf("%v is a backward op with a gradient rule", op)
		case !hasRule && !op.IsBackward():
			t.Errorf("%v is a forward op without a gradient rule", op)
		}
	}
	for op := range autodiff.Rules {
		if op <= ir.OpInvalid || op.String() == "op?" {
			t.Errorf("rule for invalid op %d", int(op))
		}
	}
}

// tinyModel: tokens → embed → matmul → cross_entropy, plus a parameter the
// loss does not use and a dead branch.
func tinyModel(t *testing.T) (p *ir.Program, table, w, unused *ir.Value, dead *ir.Value) {
	t.Helper()
	p = &ir.Program{Name: "tiny", Vocab: 5, D: 3, MaxBatch: 1, MaxSeq: 4}
	b := ir.Builder{P: p, Layer: "m"}
	p.Tokens = p.NewValue("tokens", ir.KindInput, ir.Int32, ir.TokenRows, 1, b.Pos)
	p.Targets = p.NewValue("targets", ir.KindInput, ir.Int32, ir.TokenRows, 1, b.Pos)
	table = p.NewParam("embed.tokens", []int{5, 3}, 5, 3, ir.Init{Kind: "normal", Std: 0.02}, true, b.Pos)
	w = p.NewParam("head.weight", []int{3, 5}, 3, 5, ir.Init{Kind: "normal", Std: 0.02}, true, b.Pos)
	unused = p.NewParam("unused", []int{3, 3}, 3, 3, ir.Init{Kind: "normal", Std: 0.02}, true, b.Pos)
	op := func(op ir.Op, a ir.Attrs, args ...*ir.Value) []*ir.Value {
		outs, err := b.Op(op, a, "v", args...)
		if err != nil {
			t.Fatal(err)
		}
		return outs
	}
	x := op(ir.OpEmbed, ir.Attrs{}, p.Tokens, table)[0]
	dead = op(ir.OpMatMul, ir.Attrs{}, x, unused)[0]
	p.Logits = op(ir.OpMatMul, ir.Attrs{}, x, w)[0]
	p.NInfer = len(p.Forward)
	p.Loss = op(ir.OpCrossEntropy, ir.Attrs{}, p.Logits, p.Targets)[0]
	return
}

func TestDifferentiateSkipsUnneeded(t *testing.T) {
	p, table, w, unused, dead := tinyModel(t)
	if err := autodiff.Differentiate(p); err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(p); err != nil {
		t.Fatal(err)
	}
	for _, v := range []*ir.Value{table, w, unused} {
		if v.Grad == nil || v.Grad.Kind != ir.KindGrad || v.Grad.GradOf != v || v.Grad.Name != "grad/"+v.Name {
			t.Errorf("%s: bad gradient %+v", v.Name, v.Grad)
		}
	}
	if p.Tokens.Grad != nil || p.Targets.Grad != nil || dead.Grad != nil {
		t.Errorf("gradients for tokens, targets or the dead branch")
	}
	for _, in := range p.Backward {
		for _, o := range in.Outs {
			if o == unused.Grad {
				t.Errorf("backward writes the gradient of an unused parameter: %v", in.Op)
			}
		}
	}
	var ops []string
	for _, in := range p.Backward {
		ops = append(ops, in.Op.String())
	}
	if got, want := strings.Join(ops, " "), "cross_entropy_grad matmul matmul embed_grad"; got != want {
		t.Errorf("backward ops %q, want %q", got, want)
	}
}

func TestDifferentiateErrors(t *testing.T) {
	p, _, _, _, _ := tinyModel(t)
	if err := autodiff.Differentiate(p); err != nil {
		t.Fatal(err)
	}
	if err := autodiff.Differentiate(p); err == nil || !strings.Contains(err.Error(), "already differentiated") {
		t.Errorf("second Differentiate: %v", err)
	}

	p, _, _, _, _ = tinyModel(t)
	p.Loss = nil
	if err := autodiff.Differentiate(p); err == nil || !strings.Contains(err.Error(), "no loss") {
		t.Errorf("no loss: %v", err)
	}

	// A gradient flowing into a side result (cross_entropy's lse) is an
	// error, not silently dropped.
	p, _, _, _, _ = tinyModel(t)
	ce := p.Forward[len(p.Forward)-1]
	b := ir.Builder{P: p, Layer: "m"}
	outs, err := b.Op(ir.OpAdd, ir.Attrs{}, "sum", ce.Outs[1], ce.Outs[1])
	if err != nil {
		t.Fatal(err)
	}
	p.Loss = outs[0]
	if err := autodiff.Differentiate(p); err == nil || !strings.Contains(err.Error(), "result 1 of cross_entropy") {
		t.Errorf("gradient into lse: %v", err)
	}
}
