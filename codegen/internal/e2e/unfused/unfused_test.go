package unfused

import (
	"math"
	"slices"
	"testing"

	"github.com/bfcdev/bfc/codegen/internal/e2e/e2etest"
	"github.com/bfcdev/bfc/codegen/internal/e2e/moecausal"
)

func models() (fused *moecausal.Model, unfused *Model) {
	fused, unfused = moecausal.New(moecausal.Options{Seed: 1}), New(Options{Seed: 1})
	e2etest.Perturb(fused.Params(), 2, 0.3)
	e2etest.Perturb(unfused.Params(), 2, 0.3)
	return fused, unfused
}

func sameBits(t *testing.T, what string, want, got []float32) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("%s: %d values unfused, %d fused", what, len(want), len(got))
	}
	for i := range want {
		if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
			t.Fatalf("%s: value %d is %v fused, %v unfused", what, i, got[i], want[i])
		}
	}
}

// TestFusedMatchesUnfused: Forward's loss, Backward's gradients and Infer's
// logits of the fused build equal the unfused build's bit for bit.
func TestFusedMatchesUnfused(t *testing.T) {
	f, u := models()
	if moecausal.MaxBatch != MaxBatch || moecausal.MaxSeq != MaxSeq || moecausal.Vocab != Vocab {
		t.Fatal("the two builds differ in shape")
	}
	for _, c := range []struct{ batch, seq int }{{MaxBatch, MaxSeq}, {4, 5}} {
		tokens, targets := e2etest.Batch(6, Vocab, c.batch, c.seq, true)
		lf := e2etest.Step(t, f, tokens, targets, c.batch, c.seq)
		lu := e2etest.Step(t, u, tokens, targets, c.batch, c.seq)
		sameBits(t, "loss", []float32{lu}, []float32{lf})
		gf, gu := e2etest.Grads(f), e2etest.Grads(u)
		for i, p := range u.Params() {
			sameBits(t, "gradient of "+p.Name, gu[i], gf[i])
		}
		xf, err := f.Infer(tokens, c.batch, c.seq)
		if err != nil {
			t.Fatal(err)
		}
		xu, err := u.Infer(tokens, c.batch, c.seq)
		if err != nil {
			t.Fatal(err)
		}
		sameBits(t, "logits", xu, xf)
	}
}

// TestDecodeFusedMatchesUnfused: so do the Decoder's Prefill and Step.
func TestDecodeFusedMatchesUnfused(t *testing.T) {
	f, u := models()
	df, err := f.NewDecoder(MaxBatch)
	if err != nil {
		t.Fatal(err)
	}
	du, err := u.NewDecoder(MaxBatch)
	if err != nil {
		t.Fatal(err)
	}
	const pre = 3
	tokens, _ := e2etest.Batch(7, Vocab, MaxBatch, MaxSeq, false)
	head := make([]int32, 0, MaxBatch*pre)
	for b := range MaxBatch {
		head = append(head, tokens[b*MaxSeq:b*MaxSeq+pre]...)
	}
	xf, err := df.Prefill(head, pre)
	if err != nil {
		t.Fatal(err)
	}
	xf = slices.Clone(xf)
	xu, err := du.Prefill(head, pre)
	if err != nil {
		t.Fatal(err)
	}
	sameBits(t, "prefill logits", xu, xf)
	step := make([]int32, MaxBatch)
	for s := pre; s < MaxSeq; s++ {
		for b := range MaxBatch {
			step[b] = tokens[b*MaxSeq+s]
		}
		xf, err := df.Step(step)
		if err != nil {
			t.Fatal(err)
		}
		xf = slices.Clone(xf)
		xu, err := du.Step(step)
		if err != nil {
			t.Fatal(err)
		}
		sameBits(t, "step logits", xu, xf)
	}
}
