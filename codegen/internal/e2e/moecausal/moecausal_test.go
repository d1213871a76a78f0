package moecausal

import (
	"strings"
	"testing"

	"github.com/bfcdev/bfc/codegen/internal/e2e/e2etest"
	"github.com/bfcdev/bfc/runtime/moe"
)

// model is perturbed so that routing depends strongly on the tokens.
func model() *Model {
	m := New(Options{Seed: 1})
	e2etest.Perturb(m.Params(), 2, 0.3)
	return m
}

// TestFutureIndependent: (a) changing a later token leaves every earlier
// position's logits, in every sequence of the batch, bit-identical.
func TestFutureIndependent(t *testing.T) {
	m := model()
	for _, c := range []struct{ batch, seq int }{{MaxBatch, MaxSeq}, {4, 5}} {
		tokens, _ := e2etest.Batch(3, Vocab, c.batch, c.seq, false)
		e2etest.FutureIndependent(t, m, tokens, c.batch, c.seq, Vocab)
	}
}

// TestLockstep: (b) incremental decoding in lockstep: Infer on the first s
// tokens of every sequence gives at position s-1 the logits of the
// full-sequence Infer, within 1e-6.
func TestLockstep(t *testing.T) {
	m := model()
	for _, batch := range []int{MaxBatch, 4} {
		tokens, _ := e2etest.Batch(4, Vocab, batch, MaxSeq, false)
		e2etest.Lockstep(t, m, tokens, batch, MaxSeq, Vocab, 1e-6)
	}
}

// TestRoutingVaries makes sure the checks above are not vacuous: the
// expert-choice layers give tokens different numbers of experts, and the
// top-2 layers drop choices, so routing depends on the other tokens of a
// group.
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
		if strings.HasSuffix(s.Name, ".ec") && kinds < 2 {
			t.Errorf("%s: every token got the same number of experts: %+v", s.Name, s.Stats)
		}
		if strings.HasSuffix(s.Name, ".fill") {
			// 4 experts at capacity 1 take 2 of the 8 tokens of a position
			// each; fill gives every token left out its top-1 expert.
			plain, load := 4*2*MaxSeq, 0
			for _, n := range s.Load {
				load += n
			}
			if s.PerToken[0] != 0 || load <= plain {
				t.Errorf("%s: fill left %d tokens without an expert, load %d (plain expert choice: %d): %+v", s.Name, s.PerToken[0], load, plain, s.Stats)
			}
		}
		if strings.HasSuffix(s.Name, ".top2") && s.Dropped == 0 {
			t.Errorf("%s: nothing dropped: %+v", s.Name, s.Stats)
		}
	}
	t.Logf("\n%s", strings.TrimSpace(moe.FormatStats(stats)))
}

// TestOneSequence: decoding a single sequence alone is not possible with
// expert choice over group position (a group of 1 token gives each expert
// floor(1·2/4) = 0 tokens); Infer says so instead of panicking.
func TestOneSequence(t *testing.T) {
	tokens, _ := e2etest.Batch(3, Vocab, 1, MaxSeq, false)
	if _, err := model().Infer(tokens, 1, MaxSeq); err == nil || !strings.Contains(err.Error(), "moecausal: blocks.0.ec: ") {
		t.Errorf("Infer of one sequence: %v", err)
	}
}
