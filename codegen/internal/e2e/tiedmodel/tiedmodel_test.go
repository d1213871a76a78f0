package tiedmodel

import (
	"testing"

	"github.com/bfcdev/bfc/codegen/internal/e2e/e2etest"
)

func model() *Model {
	m := New(Options{Seed: 3})
	e2etest.Perturb(m.Params(), 4, 0.3)
	return m
}

func TestGradients(t *testing.T) {
	for _, c := range []struct{ batch, seq int }{{MaxBatch, MaxSeq}, {1, 3}} {
		tokens, targets := e2etest.Batch(3, Vocab, c.batch, c.seq, true)
		e2etest.GradCheck(t, model(), tokens, targets, c.batch, c.seq)
	}
}

func TestInferMatchesForward(t *testing.T) {
	m := model()
	for _, c := range []struct{ batch, seq int }{{MaxBatch, MaxSeq}, {1, 2}} {
		tokens, targets := e2etest.Batch(4, Vocab, c.batch, c.seq, false)
		e2etest.InferMatchesForward(t, m, tokens, targets, c.batch, c.seq, Vocab, 1e-12)
	}
}

func TestRepeatable(t *testing.T) {
	e2etest.Repeatable(t, func() e2etest.Model[float64] { return model() }, Vocab, MaxBatch, MaxSeq)
}

func TestTied(t *testing.T) {
	for _, p := range New(Options{}).Params() {
		if p.Name == "head.weight" || p.Name == "embed.pos" {
			t.Errorf("tied model without positions has parameter %s", p.Name)
		}
	}
}
