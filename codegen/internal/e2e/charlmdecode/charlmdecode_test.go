package charlmdecode

import (
	"bytes"
	"testing"

	"github.com/bfcdev/bfc/codegen/internal/e2e/e2etest"
	"github.com/bfcdev/bfc/examples/charlm/model"
	"github.com/bfcdev/bfc/runtime/tensor"
	"github.com/bfcdev/bfc/runtime/train"
)

func newModel() *model.Model {
	m := model.New(model.Options{Seed: 1})
	e2etest.Perturb(m.Params(), 2, 0.05)
	return m
}

// TestDecodeMatchesInfer: stepping a full batch through all MaxSeq
// positions, and prefilling half of them first, gives Infer's logits
// within 1e-4 (float32).
func TestDecodeMatchesInfer(t *testing.T) {
	m := newModel()
	d, err := m.NewDecoder(model.MaxBatch)
	if err != nil {
		t.Fatal(err)
	}
	tokens, _ := e2etest.Batch(1, model.Vocab, model.MaxBatch, model.MaxSeq, false)
	t.Logf("steps: worst logit difference %.3g",
		e2etest.DecodeMatchesInfer(t, m, d, tokens, model.MaxBatch, model.MaxSeq, model.Vocab, 1e-4))
	t.Logf("prefill %d, then steps: worst logit difference %.3g", model.MaxSeq/2,
		e2etest.PrefillMatchesInfer(t, m, d, tokens, model.MaxBatch, model.MaxSeq, model.MaxSeq/2, model.Vocab, 1e-4))
}

// TestGenerate: train.Generate gives the same bytes with the decoder as
// recomputing every context with Infer, past MaxSeq.
func TestGenerate(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 60 bytes with a full-size model")
	}
	m := newModel()
	prompt := []byte("func main() {")
	if _, ok := train.Model(m).(train.Decoding); !ok {
		t.Fatal("the generated model is not train.Decoding")
	}
	for _, temp := range []float64{0, 0.8} {
		got, err := train.Generate(m, prompt, 60, model.MaxBatch, model.MaxSeq, temp, 0.95, tensor.NewRNG(1))
		if err != nil {
			t.Fatal(err)
		}
		want, err := train.Generate(struct{ train.Model }{m}, prompt, 60, model.MaxBatch, model.MaxSeq, temp, 0.95, tensor.NewRNG(1))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("temperature %v: decoded %q, recomputed %q", temp, got, want)
		}
	}
}
