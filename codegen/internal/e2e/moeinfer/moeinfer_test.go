package moeinfer

import (
	"strings"
	"testing"

	"github.com/bfcdev/bfc/codegen/internal/e2e/e2etest"
	"github.com/bfcdev/bfc/codegen/internal/e2e/moemodel32"
)

func TestMatchesTrainingBuild(t *testing.T) {
	m, ref := New(Options{Seed: 3}), moemodel32.New(moemodel32.Options{Seed: 3})
	for _, c := range []struct{ batch, seq int }{{MaxBatch, MaxSeq}, {2, 2}} {
		tokens, targets := e2etest.Batch(1, Vocab, c.batch, c.seq, true)
		got, err := m.Infer(tokens, c.batch, c.seq)
		if err != nil {
			t.Fatal(err)
		}
		want, err := ref.Infer(tokens, c.batch, c.seq)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("logit %d: %v inference-only, %v in the training build", i, got[i], want[i])
			}
		}
		l, err := m.Forward(tokens, targets, c.batch, c.seq)
		if err != nil {
			t.Fatal(err)
		}
		lref, err := ref.Forward(tokens, targets, c.batch, c.seq)
		if err != nil {
			t.Fatal(err)
		}
		ce, aux := m.Losses()
		ceRef, auxRef := ref.Losses()
		if l != lref || ce != ceRef || aux != auxRef {
			t.Errorf("loss %v (%v + %v) inference-only, %v (%v + %v) in the training build", l, ce, aux, lref, ceRef, auxRef)
		}
		if !e2etest.SameRouting(m.RoutingStats(), ref.RoutingStats()) {
			t.Errorf("routing %v inference-only, %v in the training build", m.RoutingStats(), ref.RoutingStats())
		}
	}
}

func TestAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	m := New(Options{})
	tokens, targets := e2etest.Batch(2, Vocab, MaxBatch, MaxSeq, true)
	run := func() {
		if _, err := m.Forward(tokens, targets, MaxBatch, MaxSeq); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Infer(tokens, MaxBatch, MaxSeq); err != nil {
			t.Fatal(err)
		}
	}
	run()
	if n := testing.AllocsPerRun(20, run); n != 0 {
		t.Errorf("%v allocations per Forward+Infer, want 0", n)
	}
}

func TestBadShape(t *testing.T) {
	tokens, targets := e2etest.Batch(2, Vocab, 1, MaxSeq, true)
	if _, err := New(Options{}).Forward(tokens, targets, 1, MaxSeq); err == nil || !strings.Contains(err.Error(), "moeinfer: blocks.0.ec: ") {
		t.Errorf("Forward of one sequence: %v", err)
	}
}
