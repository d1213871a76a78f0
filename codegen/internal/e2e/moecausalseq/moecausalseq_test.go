package moecausalseq

import (
	"strings"
	"testing"

	"github.com/bfcdev/bfc/codegen/internal/e2e/e2etest"
	"github.com/bfcdev/bfc/runtime/moe"
)

func model() *Model {
	m := New(Options{Seed: 1})
	e2etest.Perturb(m.Params(), 2, 0.3)
	return m
}

// TestFutureIndependent: changing a later token leaves every earlier
// position's logits bit-identical.
func TestFutureIndependent(t *testing.T) {
	m := model()
	for _, c := range []struct{ batch, seq int }{{MaxBatch, MaxSeq}, {2, 7}} {
		tokens, _ := e2etest.Batch(3, Vocab, c.batch, c.seq, false)
		e2etest.FutureIndependent(t, m, tokens, c.batch, c.seq, Vocab)
	}
}

// TestLockstep: Infer on the first s tokens gives at position s-1 the
// logits of the full-sequence Infer: the quota of a position does not
// depend on the sequence's length.
func TestLockstep(t *testing.T) {
	m := model()
	tokens, _ := e2etest.Batch(4, Vocab, MaxBatch, MaxSeq, false)
	e2etest.Lockstep(t, m, tokens, MaxBatch, MaxSeq, Vocab, 1e-6)
}

// TestRoutingVaries makes sure the checks above are not vacuous: tokens get
// different numbers of experts, and fill leaves none without one.
func TestRoutingVaries(t *testing.T) {
	m := model()
	tokens, targets := e2etest.Batch(3, Vocab, MaxBatch, MaxSeq, false)
	if _, err := m.Forward(tokens, targets, MaxBatch, MaxSeq); err != nil {
		t.Fatal(err)
	}
	stats := m.RoutingStats()
	for _, s := range stats {
		kinds := 0
		for _, n := range s.PerToken {
			if n > 0 {
				kinds++
			}
		}
		if kinds < 2 {
			t.Errorf("%s: every token got the same number of experts: %+v", s.Name, s.Stats)
		}
		if strings.HasSuffix(s.Name, ".ec") && s.PerToken[0] == 0 {
			t.Errorf("%s: plain causal expert choice left no token out: %+v", s.Name, s.Stats)
		}
		if strings.HasSuffix(s.Name, ".fill") && s.PerToken[0] != 0 {
			t.Errorf("%s: fill left tokens without an expert: %+v", s.Name, s.Stats)
		}
	}
	t.Logf("\n%s", strings.TrimSpace(moe.FormatStats(stats)))
}
