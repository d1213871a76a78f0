package moeleak

import (
	"bytes"
	"strings"
	"testing"

	"github.com/bfcdev/bfc/runtime/tensor"
	"github.com/bfcdev/bfc/runtime/train"
)

// TestNoDecoder: the decoding policy has no incremental form for a group
// that spans positions, so NewDecoder refuses, naming the layer and the
// rule, and train.Generate falls back to recomputing with Infer.
func TestNoDecoder(t *testing.T) {
	m := New(Options{Seed: 1})
	d, err := m.NewDecoder(MaxBatch)
	if d != nil || err == nil {
		t.Fatalf("NewDecoder: %v, %v", d, err)
	}
	for _, want := range []string{"moeleak: ", "blocks.0.ec", "expert_choice", "group sequence", "group position"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err := (&Decoder{}).Step([]int32{0, 0}); err == nil {
		t.Error("Step of a model without a decoder succeeded")
	}
	prompt := []byte{1, 2, 3, 4}
	got, err := train.Generate(m, prompt, 10, MaxBatch, MaxSeq, 0, 1, tensor.NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	want, err := train.Generate(struct{ train.Model }{m}, prompt, 10, MaxBatch, MaxSeq, 0, 1, tensor.NewRNG(1))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("Generate: %v %v, recomputing %v", got, err, want)
	}
}
