package gradmodel

import (
	"testing"

	"github.com/bfcdev/bfc/codegen/internal/e2e/e2etest"
)

func model() *Model {
	m := New(Options{Seed: 1})
	e2etest.Perturb(m.Params(), 2, 0.3)
	return m
}

func TestGradients(t *testing.T) {
	for _, c := range []struct{ batch, seq int }{{MaxBatch, MaxSeq}, {2, 3}, {1, 1}} {
		tokens, targets := e2etest.Batch(3, Vocab, c.batch, c.seq, true)
		e2etest.GradCheck(t, model(), tokens, targets, c.batch, c.seq)
	}
}

func TestInferMatchesForward(t *testing.T) {
	m := model()
	for _, c := range []struct{ batch, seq int }{{MaxBatch, MaxSeq}, {2, 4}, {1, 1}} {
		tokens, targets := e2etest.Batch(4, Vocab, c.batch, c.seq, true)
		e2etest.InferMatchesForward(t, m, tokens, targets, c.batch, c.seq, Vocab, 1e-12)
	}
}

func TestCausal(t *testing.T) {
	tokens, _ := e2etest.Batch(5, Vocab, MaxBatch, MaxSeq, false)
	e2etest.Causal(t, model(), tokens, MaxBatch, MaxSeq, Vocab, 1e-12)
}

func TestRepeatable(t *testing.T) {
	e2etest.Repeatable(t, func() e2etest.Model[float64] { return model() }, Vocab, MaxBatch, MaxSeq)
}

func TestBadInputs(t *testing.T) {
	e2etest.BadInputs(t, model(), Vocab, MaxBatch, MaxSeq)
}

func TestNumParams(t *testing.T) {
	n := 0
	for _, p := range New(Options{}).Params() {
		n += len(p.Data)
		if len(p.Grad) != len(p.Data) {
			t.Errorf("%s: %d gradients for %d elements", p.Name, len(p.Grad), len(p.Data))
		}
	}
	if n != NumParams {
		t.Errorf("parameters hold %d elements, NumParams is %d", n, NumParams)
	}
}
