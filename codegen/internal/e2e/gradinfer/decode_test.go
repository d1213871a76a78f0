package gradinfer

import (
	"testing"

	"github.com/bfcdev/bfc/codegen/internal/e2e/e2etest"
)

// TestDecodeMatchesInfer: an inference-only build decodes like its Infer
// (float32: within 2e-5) and allocates nothing per step.
func TestDecodeMatchesInfer(t *testing.T) {
	m := New(Options{Seed: 3})
	e2etest.Perturb(m.Params(), 4, 0.3)
	d, err := m.NewDecoder(2)
	if err != nil {
		t.Fatal(err)
	}
	tokens, _ := e2etest.Batch(1, Vocab, 2, MaxSeq, false)
	t.Logf("worst logit difference %.3g", e2etest.DecodeMatchesInfer(t, m, d, tokens, 2, MaxSeq, Vocab, 2e-5))
	if !raceEnabled {
		e2etest.DecodeAllocs(t, d, tokens, 2, MaxSeq)
	}
}
