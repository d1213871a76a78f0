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

// DecodeErrors checks that d (at position 0, batch sequences) refuses bad
// steps with an error naming pkg, changing nothing: the wrong number of
// tokens, a token out of range, and a step past maxSeq positions.
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
	d.Reset()
	if d.Pos() != 0 {
		t.Fatalf("Pos() = %d after Reset", d.Pos())
	}
	if _, err := d.Step(ok); err != nil {
		t.Errorf("step after Reset: %v", err)
	}
}

// DecodeAllocs requires a whole decode of seq positions (a Reset and seq
// Steps) to allocate nothing.
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
}
