package moeleak

import (
	"testing"

	"github.com/bfcdev/bfc/codegen/internal/e2e/e2etest"
)

// TestLeaks: with expert choice over each whole sequence, some change of a
// later token changes an earlier position's logits: the routing of earlier
// tokens depends on later ones (property (a) of moecausal fails).
func TestLeaks(t *testing.T) {
	m := New(Options{Seed: 1})
	e2etest.Perturb(m.Params(), 2, 0.3)
	tokens, _ := e2etest.Batch(3, Vocab, MaxBatch, MaxSeq, false)
	e2etest.FutureDependent(t, m, tokens, MaxBatch, MaxSeq, Vocab)
}
