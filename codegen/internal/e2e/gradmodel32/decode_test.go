package gradmodel32

import (
	"bytes"
	"testing"

	"github.com/bfcdev/bfc/codegen/internal/e2e/e2etest"
	"github.com/bfcdev/bfc/runtime/tensor"
	"github.com/bfcdev/bfc/runtime/train"
)

// TestDecodeMatchesInfer: float32 decoding gives Infer's full-sequence
// logits within 2e-5 (logits of order 1), for every batch size and after a
// Reset.
func TestDecodeMatchesInfer(t *testing.T) {
	m := New(Options{Seed: 3})
	e2etest.Perturb(m.Params(), 4, 0.3)
	for _, batch := range []int{1, MaxBatch} {
		d, err := m.NewDecoder(batch)
		if err != nil {
			t.Fatal(err)
		}
		for _, seed := range []uint64{1, 2} {
			tokens, _ := e2etest.Batch(seed, Vocab, batch, MaxSeq, false)
			worst := e2etest.DecodeMatchesInfer(t, m, d, tokens, batch, MaxSeq, Vocab, 2e-5)
			t.Logf("batch %d, seed %d: worst logit difference %.3g", batch, seed, worst)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	d, err := New(Options{Seed: 3}).NewDecoder(MaxBatch)
	if err != nil {
		t.Fatal(err)
	}
	e2etest.DecodeErrors(t, d, "gradmodel32", MaxBatch, Vocab, MaxSeq)
}

func TestDecodeAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	m := New(Options{Seed: 3})
	d, err := m.NewDecoder(MaxBatch)
	if err != nil {
		t.Fatal(err)
	}
	tokens, _ := e2etest.Batch(1, Vocab, MaxBatch, MaxSeq, false)
	e2etest.DecodeAllocs(t, d, tokens, MaxBatch, MaxSeq)
}

// inferOnly hides the model's decoder from train.Generate.
type inferOnly struct{ train.Model }

// TestGenerateWithDecoder: train.Generate with the decoder gives the bytes
// it gives recomputing every context with Infer, greedy and sampled, over
// more bytes than MaxSeq (so the context restarts several times).
func TestGenerateWithDecoder(t *testing.T) {
	m := New(Options{Seed: 3})
	e2etest.Perturb(m.Params(), 4, 0.5)
	if _, ok := train.Model(m).(train.Decoding); !ok {
		t.Fatal("the generated model is not train.Decoding")
	}
	prompt := []byte{1, 2, 3}
	for _, c := range []struct {
		temp, topP float64
		batch      int
	}{{0, 1, 1}, {1, 0.9, MaxBatch}, {0.8, 1, 2}} {
		got, err := train.Generate(m, prompt, 4*MaxSeq, c.batch, MaxSeq, c.temp, c.topP, tensor.NewRNG(9))
		if err != nil {
			t.Fatal(err)
		}
		want, err := train.Generate(inferOnly{m}, prompt, 4*MaxSeq, c.batch, MaxSeq, c.temp, c.topP, tensor.NewRNG(9))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%+v: decoded %v, recomputed %v", c, got, want)
		}
		if len(got) != len(prompt)+4*MaxSeq {
			t.Errorf("%+v: %d bytes", c, len(got))
		}
	}
}

// TestPrefillMatchesInfer: a Prefill of the first positions, then Steps,
// give Infer's full-sequence logits within 2e-5, and a later Prefill
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
		worst := e2etest.PrefillMatchesInfer(t, m, d, tokens, MaxBatch, MaxSeq, split, Vocab, 2e-5)
		t.Logf("prefill %d: worst logit difference %.3g", split, worst)
	}
}
