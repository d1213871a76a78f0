package gradmodel

import (
	"strings"
	"testing"

	"github.com/bfcdev/bfc/codegen/internal/e2e/e2etest"
)

// TestDecodeMatchesInfer: decoding with the key/value cache, one position
// of every sequence per step, gives Infer's full-sequence logits within
// 1e-12, for every batch size and after a Reset.
func TestDecodeMatchesInfer(t *testing.T) {
	m := New(Options{Seed: 3})
	e2etest.Perturb(m.Params(), 4, 0.3)
	for _, batch := range []int{1, 2, MaxBatch} {
		d, err := m.NewDecoder(batch)
		if err != nil {
			t.Fatal(err)
		}
		for _, seed := range []uint64{1, 2} { // the second run reuses d after a Reset
			tokens, _ := e2etest.Batch(seed, Vocab, batch, MaxSeq, false)
			worst := e2etest.DecodeMatchesInfer(t, m, d, tokens, batch, MaxSeq, Vocab, 1e-12)
			t.Logf("batch %d, seed %d: worst logit difference %.3g", batch, seed, worst)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	m := New(Options{Seed: 3})
	d, err := m.NewDecoder(2)
	if err != nil {
		t.Fatal(err)
	}
	e2etest.DecodeErrors(t, d, "gradmodel", 2, Vocab, MaxSeq)
	for _, batch := range []int{0, MaxBatch + 1} {
		if _, err := m.NewDecoder(batch); err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("NewDecoder(%d): %v", batch, err)
		}
	}
	var zero Decoder
	if _, err := zero.Step([]int32{0}); err == nil {
		t.Error("a zero Decoder stepped")
	}
}

// TestPrefillMatchesInfer: a Prefill of the first positions, then Steps,
// give Infer's full-sequence logits within 1e-12, and a later Prefill
// starts the sequences over.
func TestPrefillMatchesInfer(t *testing.T) {
	m := New(Options{Seed: 3})
	e2etest.Perturb(m.Params(), 4, 0.3)
	d, err := m.NewDecoder(MaxBatch)
	if err != nil {
		t.Fatal(err)
	}
	for i, split := range []int{1, MaxSeq / 2, MaxSeq} {
		tokens, _ := e2etest.Batch(uint64(10+i), Vocab, MaxBatch, MaxSeq, false)
		worst := e2etest.PrefillMatchesInfer(t, m, d, tokens, MaxBatch, MaxSeq, split, Vocab, 1e-12)
		t.Logf("prefill %d: worst logit difference %.3g", split, worst)
	}
}
