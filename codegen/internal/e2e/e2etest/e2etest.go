package e2etest

import (
	"math"
	"testing"

	"github.com/bfcdev/bfc/runtime/kernels"
	"github.com/bfcdev/bfc/runtime/tensor"
)

// Model is the API every generated training package has.
type Model[F kernels.Float] interface {
	Forward(tokens, targets []int32, batch, seq int) (F, error)
	Backward()
	Infer(tokens []int32, batch, seq int) ([]F, error)
	Params() []tensor.Param[F]
}

// Inferer is the API of inference-only builds.
type Inferer[F kernels.Float] interface {
	Forward(tokens, targets []int32, batch, seq int) (F, error)
	Infer(tokens []int32, batch, seq int) ([]F, error)
	Params() []tensor.Param[F]
}

// Batch returns batch·seq random tokens below vocab and their targets; with
// ignore, every fourth target is -1 (an ignored position).
func Batch(seed uint64, vocab, batch, seq int, ignore bool) (tokens, targets []int32) {
	r := tensor.NewRNG(seed)
	n := batch * seq
	tokens, targets = make([]int32, n), make([]int32, n)
	for i := range n {
		tokens[i] = int32(r.Intn(vocab))
		targets[i] = int32(r.Intn(vocab))
		if ignore && i%4 == 1 {
			targets[i] = -1
		}
	}
	return tokens, targets
}

// Perturb adds normal noise of the given scale to every parameter, so that
// norm scales and biases leave their special initial values and gradients
// are not tiny.
func Perturb[F kernels.Float](params []tensor.Param[F], seed uint64, scale float64) {
	r := tensor.NewRNG(seed)
	for _, p := range params {
		for i := range p.Data {
			p.Data[i] += F(scale * r.NormFloat64())
		}
	}
}

// GradCheck compares Backward's gradient with a central difference of
// Forward's loss for a sample of elements of every parameter (its first and
// last element and a few random ones), and requires every parameter to get
// a non-zero gradient.
func GradCheck(t *testing.T, m Model[float64], tokens, targets []int32, batch, seq int) {
	t.Helper()
	if _, err := m.Forward(tokens, targets, batch, seq); err != nil {
		t.Fatal(err)
	}
	m.Backward()
	params := m.Params()
	grads := make([][]float64, len(params))
	for i, p := range params {
		grads[i] = append([]float64(nil), p.Grad...)
	}
	loss := func() float64 {
		l, err := m.Forward(tokens, targets, batch, seq)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	const h = 1e-5
	r := tensor.NewRNG(99)
	checked := 0
	for pi, p := range params {
		nonzero := false
		for _, g := range grads[pi] {
			nonzero = nonzero || g != 0
		}
		if !nonzero {
			t.Errorf("%s: gradient is zero everywhere", p.Name)
		}
		idx := []int{0, len(p.Data) - 1}
		for range 4 {
			idx = append(idx, r.Intn(len(p.Data)))
		}
		for _, i := range idx {
			x := p.Data[i]
			p.Data[i] = x + h
			lp := loss()
			p.Data[i] = x - h
			lm := loss()
			p.Data[i] = x
			num, got := (lp-lm)/(2*h), grads[pi][i]
			if math.Abs(num-got) > 1e-7+1e-5*math.Max(math.Abs(num), math.Abs(got)) {
				t.Errorf("%s[%d]: backward %.10g, central difference %.10g", p.Name, i, got, num)
			}
			checked++
		}
	}
	t.Logf("%d elements of %d parameters checked", checked, len(params))
}

// CrossEntropy is the mean over rows with a target >= 0 of the row's
// log-sum-exp minus its target logit, computed in float64.
func CrossEntropy[F kernels.Float](logits []F, targets []int32, vocab int) float64 {
	var sum float64
	n := 0
	for r, tg := range targets {
		if tg < 0 {
			continue
		}
		row := logits[r*vocab : (r+1)*vocab]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, float64(v))
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v) - mx)
		}
		sum += mx + math.Log(s) - float64(row[tg])
		n++
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// InferMatchesForward checks that the cross-entropy of Infer's logits is
// Forward's loss, within tol relative.
func InferMatchesForward[F kernels.Float](t *testing.T, m Inferer[F], tokens, targets []int32, batch, seq, vocab int, tol float64) {
	t.Helper()
	loss, err := m.Forward(tokens, targets, batch, seq)
	if err != nil {
		t.Fatal(err)
	}
	logits, err := m.Infer(tokens, batch, seq)
	if err != nil {
		t.Fatal(err)
	}
	if len(logits) != batch*seq*vocab {
		t.Fatalf("Infer returned %d logits, want %d", len(logits), batch*seq*vocab)
	}
	got := CrossEntropy(logits, targets, vocab)
	if math.Abs(got-float64(loss)) > tol*math.Max(1, math.Abs(got)) {
		t.Errorf("batch %d seq %d: cross-entropy of Infer's logits %.10g, Forward's loss %.10g", batch, seq, got, loss)
	}
}

// Causal checks that in a causal model the logits of a sequence's first s
// positions do not depend on what follows: Infer on every prefix agrees
// with Infer on the whole sequence, and every sequence of a batch agrees
// with the same sequence alone.
func Causal[F kernels.Float](t *testing.T, m Inferer[F], tokens []int32, batch, seq, vocab int, tol float64) {
	t.Helper()
	full, err := m.Infer(tokens, batch, seq)
	if err != nil {
		t.Fatal(err)
	}
	full = append([]F(nil), full...)
	for b := range batch {
		row := tokens[b*seq : (b+1)*seq]
		for s := 1; s <= seq; s++ {
			part, err := m.Infer(row[:s], 1, s)
			if err != nil {
				t.Fatal(err)
			}
			want := full[b*seq*vocab : (b*seq+s)*vocab]
			for i := range part {
				if d := math.Abs(float64(part[i] - want[i])); d > tol*math.Max(1, math.Abs(float64(want[i]))) {
					t.Fatalf("sequence %d, prefix %d: logit %d is %v alone, %v in the batch", b, s, i, part[i], want[i])
				}
			}
		}
	}
}

// BadInputs checks that Forward and Infer reject malformed batches with an
// error, not a panic.
func BadInputs[F kernels.Float](t *testing.T, m Inferer[F], vocab, maxBatch, maxSeq int) {
	t.Helper()
	ok := func(n int) []int32 { return make([]int32, n) }
	bad := func(n int, v int32) []int32 {
		x := make([]int32, n)
		x[n-1] = v
		return x
	}
	cases := []struct {
		name            string
		tokens, targets []int32
		batch, seq      int
	}{
		{"batch 0", ok(0), ok(0), 0, 1},
		{"negative batch", ok(0), ok(0), -1, 1},
		{"batch above max", ok((maxBatch + 1) * 2), ok((maxBatch + 1) * 2), maxBatch + 1, 2},
		{"seq 0", ok(0), ok(0), 1, 0},
		{"seq above max", ok(maxSeq + 1), ok(maxSeq + 1), 1, maxSeq + 1},
		{"too few tokens", ok(3), ok(4), 1, 4},
		{"too many tokens", ok(5), ok(5), 1, 4},
		{"token too large", bad(4, int32(vocab)), ok(4), 1, 4},
		{"negative token", bad(4, -1), ok(4), 1, 4},
		{"nil tokens", nil, nil, 1, 1},
	}
	for _, c := range cases {
		if _, err := m.Forward(c.tokens, c.targets, c.batch, c.seq); err == nil {
			t.Errorf("Forward, %s: no error", c.name)
		}
		if _, err := m.Infer(c.tokens, c.batch, c.seq); err == nil {
			t.Errorf("Infer, %s: no error", c.name)
		}
	}
	if _, err := m.Forward(ok(4), ok(3), 1, 4); err == nil {
		t.Error("Forward, too few targets: no error")
	}
	if _, err := m.Forward(ok(4), bad(4, int32(vocab)), 1, 4); err == nil {
		t.Error("Forward, target too large: no error")
	}
	if _, err := m.Forward(ok(4), bad(4, -7), 1, 4); err != nil {
		t.Errorf("Forward, negative target: %v", err)
	}
}

// Grads returns a copy of every parameter's gradient.
func Grads[F kernels.Float](m Model[F]) [][]F {
	var out [][]F
	for _, p := range m.Params() {
		out = append(out, append([]F(nil), p.Grad...))
	}
	return out
}

// Step runs Forward and Backward and fails the test on error.
func Step[F kernels.Float](t *testing.T, m Model[F], tokens, targets []int32, batch, seq int) F {
	t.Helper()
	loss, err := m.Forward(tokens, targets, batch, seq)
	if err != nil {
		t.Fatal(err)
	}
	m.Backward()
	return loss
}

// Repeatable checks that the gradients of a step do not depend on what the
// model computed before (stale activation-gradient slots are zeroed): the
// gradients of a batch on a fresh model equal those after two other steps
// of different shapes. It also checks that a second Backward without a
// Forward changes nothing.
func Repeatable[F kernels.Float](t *testing.T, fresh func() Model[F], vocab, batch, seq int) {
	t.Helper()
	RepeatableWith(t, fresh, vocab, batch, seq, 1, seq-1)
}

// RepeatableWith is Repeatable with the shape of the other step in between
// given (batch2 sequences of seq2 tokens): for models whose routing needs
// several sequences.
func RepeatableWith[F kernels.Float](t *testing.T, fresh func() Model[F], vocab, batch, seq, batch2, seq2 int) {
	t.Helper()
	tokens, targets := Batch(5, vocab, batch, seq, true)
	a := fresh()
	Step(t, a, tokens, targets, batch, seq)
	want := Grads(a)

	b := fresh()
	t1, g1 := Batch(6, vocab, batch, seq, false)
	Step(t, b, t1, g1, batch, seq)
	t2, g2 := Batch(7, vocab, batch2, seq2, false)
	Step(t, b, t2, g2, batch2, seq2)
	Step(t, b, tokens, targets, batch, seq)
	got := Grads(b)
	b.Backward() // no Forward since the last Backward: a no-op
	again := Grads(b)
	for i, p := range b.Params() {
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Fatalf("%s[%d]: gradient %v after other steps, %v on a fresh model", p.Name, j, got[i][j], want[i][j])
			}
			if again[i][j] != got[i][j] {
				t.Fatalf("%s[%d]: a second Backward changed the gradient", p.Name, j)
			}
		}
	}
}
