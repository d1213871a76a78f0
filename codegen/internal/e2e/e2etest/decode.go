package e2etest

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/bfcdev/bfc/runtime/kernels"
)

// Decoder is the API of a generated model's Decoder (key/value-cache
// decoding).
type Decoder[F kernels.Float] interface {
	Pos() int
	Reset()
	Step(tokens []int32) ([]F, error)
	Prefill(tokens []int32, seq int) ([]F, error)
}

// DecodeMatchesInfer feeds batch sequences of seq tokens to d one position
// at a time, in lockstep, after a Reset, and requires every position's
// logits to equal those Infer gives on the full sequences within tol
// (absolute, for logits of order 1). It returns the worst difference.
func DecodeMatchesInfer[F kernels.Float](t *testing.T, m Inferer[F], d Decoder[F], tokens []int32, batch, seq, vocab int, tol float64) float64 {
	t.Helper()
	full, err := m.Infer(tokens, batch, seq)
	if err != nil {
		t.Fatal(err)
	}
	full = slices.Clone(full) // Step reuses Infer's buffers
	d.Reset()
	step := make([]int32, batch)
	worst := 0.0
	for s := range seq {
		if d.Pos() != s {
			t.Fatalf("Pos() = %d before step %d", d.Pos(), s)
		}
		for b := range batch {
			step[b] = tokens[b*seq+s]
		}
		got, err := d.Step(step)
		if err != nil {
			t.Fatalf("step %d: %v", s, err)
		}
		if len(got) != batch*vocab {
			t.Fatalf("step %d: %d logits, want %d", s, len(got), batch*vocab)
		}
		for b := range batch {
			g, w := got[b*vocab:(b+1)*vocab], rowOf(full, seq, vocab, b, s)
			for i := range w {
				diff := math.Abs(float64(g[i]) - float64(w[i]))
				if !(diff <= tol) {
					t.Fatalf("sequence %d, position %d: logit %d is %v decoded, %v by Infer", b, s, i, g[i], w[i])
				}
				worst = max(worst, diff)
			}
		}
	}
	return worst
}

// PrefillMatchesInfer prefills d with the first split positions of batch
// sequences of seq tokens, then steps the rest, and requires every
// position's logits to equal those of Infer on the full sequences within
// tol. It returns the worst difference.
func PrefillMatchesInfer[F kernels.Float](t *testing.T, m Inferer[F], d Decoder[F], tokens []int32, batch, seq, split, vocab int, tol float64) float64 {
	t.Helper()
	full, err := m.Infer(tokens, batch, seq)
	if err != nil {
		t.Fatal(err)
	}
	full = slices.Clone(full)
	var prefix []int32
	for b := range batch {
		prefix = append(prefix, tokens[b*seq:b*seq+split]...)
	}
	worst := 0.0
	check := func(g, w []F, b, s int) {
		t.Helper()
		for i := range w {
			diff := math.Abs(float64(g[i]) - float64(w[i]))
			if !(diff <= tol) {
				t.Fatalf("sequence %d, position %d (prefilled %d): logit %d is %v decoded, %v by Infer", b, s, split, i, g[i], w[i])
			}
			worst = max(worst, diff)
		}
	}
	got, err := d.Prefill(prefix, split)
	if err != nil {
		t.Fatalf("prefill of %d: %v", split, err)
	}
	if len(got) != batch*split*vocab || d.Pos() != split {
		t.Fatalf("prefill of %d: %d logits, Pos() %d", split, len(got), d.Pos())
	}
	for b := range batch {
		for s := range split {
			check(rowOf(got, split, vocab, b, s), rowOf(full, seq, vocab, b, s), b, s)
		}
	}
	step := make([]int32, batch)
	for s := split; s < seq; s++ {
		for b := range batch {
			step[b] = tokens[b*seq+s]
		}
		got, err := d.Step(step)
		if err != nil {
			t.Fatalf("step %d: %v", s, err)
		}
		for b := range batch {
			check(got[b*vocab:(b+1)*vocab], rowOf(full, seq, vocab, b, s), b, s)
		}
	}
	return worst
}

// DecodeErrors checks that d (batch sequences) refuses bad steps and
// prefills with an error naming pkg, changing nothing: the wrong number of
// tokens, a token out of range, a step past maxSeq positions, a prefill of
// a bad length.
func DecodeErrors[F kernels.Float](t *testing.T, d Decoder[F], pkg string, batch, vocab, maxSeq int) {
	t.Helper()
	d.Reset()
	ok := make([]int32, batch)
	bad := func(what string, tokens []int32, want string) {
		t.Helper()
		pos := d.Pos()
		_, err := d.Step(tokens)
		if err == nil || !strings.HasPrefix(err.Error(), pkg+": ") || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one with %q", what, err, want)
		}
		if d.Pos() != pos {
			t.Errorf("%s: position %d after the error, want %d", what, d.Pos(), pos)
		}
	}
	bad("too few tokens", ok[:batch-1], "tokens for batch")
	bad("too many tokens", append(slices.Clone(ok), 0), "tokens for batch")
	neg := slices.Clone(ok)
	neg[batch-1] = -1
	bad("negative token", neg, "out of range")
	big := slices.Clone(ok)
	big[0] = int32(vocab)
	bad("token Vocab", big, "out of range")
	for range maxSeq {
		if _, err := d.Step(ok); err != nil {
			t.Fatal(err)
		}
	}
	bad("step past MaxSeq", ok, "MaxSeq")
	pre := func(what string, tokens []int32, seq int, want string) {
		t.Helper()
		pos := d.Pos()
		_, err := d.Prefill(tokens, seq)
		if err == nil || !strings.HasPrefix(err.Error(), pkg+": ") || !strings.Contains(err.Error(), want) {
			t.Errorf("prefill %s: error %v, want one with %q", what, err, want)
		}
		if d.Pos() != pos {
			t.Errorf("prefill %s: position %d after the error, want %d", what, d.Pos(), pos)
		}
	}
	pre("of seq 0", nil, 0, "seq 0 out of range")
	pre("past MaxSeq", make([]int32, batch*(maxSeq+1)), maxSeq+1, "out of range")
	pre("with too few tokens", make([]int32, batch*2-1), 2, "tokens for batch")
	pre("with a token out of range", big, 1, "out of range")
	d.Reset()
	if d.Pos() != 0 {
		t.Fatalf("Pos() = %d after Reset", d.Pos())
	}
	if _, err := d.Step(ok); err != nil {
		t.Errorf("step after Reset: %v", err)
	}
}

// DecodeAllocs requires a whole decode of seq positions (a Reset and seq
// Steps), and a Prefill of them, to allocate nothing.
func DecodeAllocs[F kernels.Float](t *testing.T, d Decoder[F], tokens []int32, batch, seq int) {
	t.Helper()
	step := make([]int32, batch)
	run := func() {
		d.Reset()
		for s := range seq {
			for b := range batch {
				step[b] = tokens[b*seq+s]
			}
			if _, err := d.Step(step); err != nil {
				t.Fatal(err)
			}
		}
	}
	run()
	if n := testing.AllocsPerRun(5, run); n != 0 {
		t.Errorf("decoding %d positions: %v allocations, want 0", seq, n)
	}
	prefill := func() {
		if _, err := d.Prefill(tokens, seq); err != nil {
			t.Fatal(err)
		}
	}
	prefill()
	if n := testing.AllocsPerRun(5, prefill); n != 0 {
		t.Errorf("prefilling %d positions: %v allocations, want 0", seq, n)
	}
}
