package moecausal

import (
	"bytes"
	"strings"
	"testing"

	"github.com/bfcdev/bfc/codegen/internal/e2e/e2etest"
	"github.com/bfcdev/bfc/runtime/tensor"
	"github.com/bfcdev/bfc/runtime/train"
)

// TestDecodeMatchesInfer: the decoding policy (docs/language.md): with
// every moe layer over group position, decoding the batch in lockstep with
// the key/value cache gives Infer's full-sequence logits, expert choice and
// top-2 alike, within 2e-5 (float32).
func TestDecodeMatchesInfer(t *testing.T) {
	m := model()
	for _, batch := range []int{MaxBatch, 4} {
		d, err := m.NewDecoder(batch)
		if err != nil {
			t.Fatal(err)
		}
		for _, seed := range []uint64{4, 5} {
			tokens, _ := e2etest.Batch(seed, Vocab, batch, MaxSeq, false)
			worst := e2etest.DecodeMatchesInfer(t, m, d, tokens, batch, MaxSeq, Vocab, 2e-5)
			t.Logf("batch %d, seed %d: worst logit difference %.3g", batch, seed, worst)
		}
	}
}

// TestDecodeOneSequence: expert choice over group position cannot route a
// batch of one (k = floor(1·2/4) = 0); NewDecoder says so.
func TestDecodeOneSequence(t *testing.T) {
	if _, err := model().NewDecoder(1); err == nil || !strings.Contains(err.Error(), "moecausal: blocks.0.ec: ") {
		t.Errorf("NewDecoder(1): %v", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	d, err := model().NewDecoder(MaxBatch)
	if err != nil {
		t.Fatal(err)
	}
	e2etest.DecodeErrors(t, d, "moecausal", MaxBatch, Vocab, MaxSeq)
}

func TestDecodeAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	m := model()
	d, err := m.NewDecoder(MaxBatch)
	if err != nil {
		t.Fatal(err)
	}
	tokens, _ := e2etest.Batch(1, Vocab, MaxBatch, MaxSeq, false)
	e2etest.DecodeAllocs(t, d, tokens, MaxBatch, MaxSeq)
}

// TestGenerateWithDecoder: train.Generate gives the same bytes with the
// decoder and recomputing with Infer, for a batch routed in lockstep.
func TestGenerateWithDecoder(t *testing.T) {
	m := model()
	prompt := []byte{1, 2, 3, 4, 5}
	if _, ok := train.Model(m).(train.Decoding); !ok {
		t.Fatal("the generated model is not train.Decoding")
	}
	for _, temp := range []float64{0, 1} {
		got, err := train.Generate(m, prompt, 3*MaxSeq, MaxBatch, MaxSeq, temp, 0.95, tensor.NewRNG(2))
		if err != nil {
			t.Fatal(err)
		}
		want, err := train.Generate(struct{ train.Model }{m}, prompt, 3*MaxSeq, MaxBatch, MaxSeq, temp, 0.95, tensor.NewRNG(2))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("temperature %v: decoded %v, recomputed %v", temp, got, want)
		}
	}
}

// TestPrefillMatchesInfer: a Prefill of the first positions, then Steps,
// give Infer's full-sequence logits within 2e-5, and a later Prefill
// starts the sequences over.
func TestPrefillMatchesInfer(t *testing.T) {
	m := model()
	d, err := m.NewDecoder(MaxBatch)
	if err != nil {
		t.Fatal(err)
	}
	for i, split := range []int{1, MaxSeq / 2, MaxSeq} {
		tokens, _ := e2etest.Batch(uint64(10+i), Vocab, MaxBatch, MaxSeq, false)
		worst := e2etest.PrefillMatchesInfer(t, m, d, tokens, MaxBatch, MaxSeq, split, Vocab, 2e-5)
		t.Logf("prefill %d: worst logit difference %.3g", split, worst)
	}
}
