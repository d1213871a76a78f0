package moebf16

import (
	"math"
	"testing"

	"github.com/bfcdev/bfc/codegen/internal/e2e/e2etest"
	"github.com/bfcdev/bfc/codegen/internal/e2e/moemodel"
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

// TestNearFloat64: the sparse model in bf16 against its float64 build: the
// same routing, the loss within 1 % and gradients within 5 %.
func TestNearFloat64(t *testing.T) {
	m, m64 := New(Options{Seed: 7}), moemodel.New(moemodel.Options{Seed: 7})
	tokens, targets := e2etest.Batch(2, Vocab, MaxBatch, MaxSeq, true)
	l := e2etest.Step(t, m, tokens, targets, MaxBatch, MaxSeq)
	l64 := e2etest.Step(t, m64, tokens, targets, MaxBatch, MaxSeq)
	if !e2etest.SameRouting(m.RoutingStats(), m64.RoutingStats()) {
		t.Fatalf("routing differs between bf16 and float64:\n%v\n%v", m.RoutingStats(), m64.RoutingStats())
	}
	if math.Abs(float64(l)-l64) > 1e-2*l64 {
		t.Errorf("loss %v in bf16, %v in float64", l, l64)
	}
	p, p64 := m.Params(), m64.Params()
	for i := range p {
		var num, den float64
		for j, g := range p[i].Grad {
			d := float64(g) - p64[i].Grad[j]
			num += d * d
			den += p64[i].Grad[j] * p64[i].Grad[j]
		}
		if e := math.Sqrt(num / den); e > 5e-2 {
			t.Errorf("%s: bf16 gradient off by %.3g (relative)", p[i].Name, e)
		}
	}
}
