package gradbf16

import (
	"math"
	"testing"

	"github.com/bfcdev/bfc/codegen/internal/e2e/e2etest"
	"github.com/bfcdev/bfc/codegen/internal/e2e/gradmodel"
	"github.com/bfcdev/bfc/runtime/kernels"
)

func TestStepAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	m := New(Options{Seed: 1})
	tokens, targets := e2etest.Batch(1, Vocab, MaxBatch, MaxSeq, true)
	step := func() {
		if _, err := m.Forward(tokens, targets, MaxBatch, MaxSeq); err != nil {
			t.Fatal(err)
		}
		m.Backward()
	}
	step()
	if n := testing.AllocsPerRun(20, step); n != 0 {
		t.Errorf("Forward+Backward: %v allocations per step, want 0", n)
	}
}

// TestNearFloat64: the same initialisation as the float64 build; the loss
// within 1 % and every gradient within 5 % (relative error norm) of
// float64's, and at least one gradient further than float32 would be
// (1e-4), which shows bfloat16 at work.
func TestNearFloat64(t *testing.T) {
	m, m64 := New(Options{Seed: 7}), gradmodel.New(gradmodel.Options{Seed: 7})
	p, p64 := m.Params(), m64.Params()
	for i := range p {
		for j := range p[i].Data {
			if p[i].Data[j] != float32(p64[i].Data[j]) {
				t.Fatalf("%s[%d]: initialised to %v, %v in float64", p[i].Name, j, p[i].Data[j], p64[i].Data[j])
			}
		}
	}
	tokens, targets := e2etest.Batch(2, Vocab, MaxBatch, MaxSeq, true)
	l := e2etest.Step(t, m, tokens, targets, MaxBatch, MaxSeq)
	l64 := e2etest.Step(t, m64, tokens, targets, MaxBatch, MaxSeq)
	if math.Abs(float64(l)-l64) > 1e-2*l64 {
		t.Errorf("loss %v in bf16, %v in float64", l, l64)
	}
	worst := 0.0
	for i := range p {
		var num, den float64
		for j, g := range p[i].Grad {
			d := float64(g) - p64[i].Grad[j]
			num += d * d
			den += p64[i].Grad[j] * p64[i].Grad[j]
		}
		e := math.Sqrt(num / den)
		worst = max(worst, e)
		if e > 5e-2 {
			t.Errorf("%s: bf16 gradient off by %.3g (relative)", p[i].Name, e)
		}
	}
	if worst < 1e-4 {
		t.Errorf("no gradient further than %.3g from float64's: bf16 does not show (implementation %s)", worst, kernels.BF16Impl())
	}
	t.Logf("on %s: loss %v against %v; worst gradient %.3g", kernels.BF16Impl(), l, l64, worst)
}

// TestDecodeMatchesInfer: bf16 decoding gives Infer's logits within 2e-3
// (both round the same operands; sums differ in order).
func TestDecodeMatchesInfer(t *testing.T) {
	m := New(Options{Seed: 3})
	e2etest.Perturb(m.Params(), 4, 0.3)
	d, err := m.NewDecoder(MaxBatch)
	if err != nil {
		t.Fatal(err)
	}
	tokens, _ := e2etest.Batch(1, Vocab, MaxBatch, MaxSeq, false)
	worst := e2etest.DecodeMatchesInfer(t, m, d, tokens, MaxBatch, MaxSeq, Vocab, 2e-3)
	t.Logf("worst logit difference %.3g", worst)
}
