package gradinfer

import (
	"testing"

	"github.com/bfcdev/bfc/codegen/internal/e2e/e2etest"
	"github.com/bfcdev/bfc/codegen/internal/e2e/gradmodel32"
)

func TestMatchesTrainingBuild(t *testing.T) {
	m, ref := New(Options{Seed: 3}), gradmodel32.New(gradmodel32.Options{Seed: 3})
	for _, c := range []struct{ batch, seq int }{{MaxBatch, MaxSeq}, {1, 2}} {
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
		if l != lref {
			t.Errorf("loss %v inference-only, %v in the training build", l, lref)
		}
	}
}

func TestNoGradients(t *testing.T) {
	m := New(Options{})
	if _, ok := any(m).(interface{ Backward() }); ok {
		t.Error("an inference-only model has Backward")
	}
	for _, p := range m.Params() {
		if p.Grad != nil {
			t.Errorf("%s has a gradient", p.Name)
		}
	}
	tokens, targets := e2etest.Batch(2, Vocab, MaxBatch, MaxSeq, true)
	e2etest.InferMatchesForward(t, m, tokens, targets, MaxBatch, MaxSeq, Vocab, 1e-5)
	e2etest.BadInputs(t, m, Vocab, MaxBatch, MaxSeq)
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
