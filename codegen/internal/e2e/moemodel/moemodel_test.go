package moemodel

import (
	"math"
	"strings"
	"testing"

	"github.com/bfcdev/bfc/codegen/internal/e2e/e2etest"
	"github.com/bfcdev/bfc/runtime/moe"
)

func model(seed uint64) *Model {
	m := New(Options{Seed: seed})
	e2etest.Perturb(m.Params(), seed+100, 0.3)
	return m
}

func TestGradients(t *testing.T) {
	for _, c := range []struct{ batch, seq int }{{MaxBatch, MaxSeq}, {2, 3}} {
		e2etest.GradCheckRouted(t,
			func(seed uint64) e2etest.Routed[float64] { return model(seed) },
			func(seed uint64) ([]int32, []int32) { return e2etest.Batch(seed+3, Vocab, c.batch, c.seq, true) },
			c.batch, c.seq)
	}
}

// TestLosses: Forward's loss is the cross-entropy of Infer's logits plus
// the router losses, which are positive (z-loss on every layer, load
// balance on the top-2 ones).
func TestLosses(t *testing.T) {
	m := model(1)
	for _, c := range []struct{ batch, seq int }{{MaxBatch, MaxSeq}, {2, 4}} {
		tokens, targets := e2etest.Batch(4, Vocab, c.batch, c.seq, true)
		loss, err := m.Forward(tokens, targets, c.batch, c.seq)
		if err != nil {
			t.Fatal(err)
		}
		ce, aux := m.Losses()
		if !(aux > 0) || math.Abs(ce+aux-loss) > 1e-12 {
			t.Errorf("loss %v, ce %v + aux %v", loss, ce, aux)
		}
		logits, err := m.Infer(tokens, c.batch, c.seq)
		if err != nil {
			t.Fatal(err)
		}
		if got := e2etest.CrossEntropy(logits, targets, Vocab); math.Abs(got-ce) > 1e-12 {
			t.Errorf("cross-entropy of Infer's logits %v, Forward's %v", got, ce)
		}
	}
}

func TestRoutingStats(t *testing.T) {
	m := model(1)
	if s := m.RoutingStats(); len(s) != 4 || s[0].Tokens != 0 {
		t.Fatalf("before a Forward: %+v", s)
	}
	tokens, targets := e2etest.Batch(4, Vocab, MaxBatch, MaxSeq, true)
	if _, err := m.Forward(tokens, targets, MaxBatch, MaxSeq); err != nil {
		t.Fatal(err)
	}
	stats := m.RoutingStats()
	names := []string{"blocks.0.ec", "blocks.0.top2", "blocks.1.ec", "blocks.1.top2"}
	for i, s := range stats {
		if s.Name != names[i] {
			t.Errorf("layer %d is %s, want %s", i, s.Name, names[i])
		}
		if s.Tokens != MaxBatch*MaxSeq || s.PerToken[0]+s.PerToken[1]+s.PerToken[2]+s.PerToken[3] != s.Tokens {
			t.Errorf("%s: %+v", s.Name, s.Stats)
		}
		if strings.HasSuffix(s.Name, ".ec") {
			// One group of 3 tokens per position; each of the 4 experts takes
			// k = floor(3·2/4) = 1 of them.
			for e, l := range s.Load {
				if l != MaxSeq {
					t.Errorf("%s: expert %d took %d tokens, want %d", s.Name, e, l, MaxSeq)
				}
			}
		} else if s.Choices != 2*s.Tokens || len(s.Load) != 3 {
			t.Errorf("%s: %+v", s.Name, s.Stats)
		}
	}
	t.Logf("\n%s", strings.TrimSpace(formatStats(stats)))
}

func TestRepeatable(t *testing.T) {
	e2etest.RepeatableWith(t, func() e2etest.Model[float64] { return model(1) }, Vocab, MaxBatch, MaxSeq, 2, MaxSeq-1)
}

// TestInferKeepsTrainingState: Infer between Forward and Backward (of other
// tokens and another shape) changes neither the gradients nor the routing
// statistics of the Forward: it has its own moe workspaces.
func TestInferKeepsTrainingState(t *testing.T) {
	tokens, targets := e2etest.Batch(8, Vocab, MaxBatch, MaxSeq, true)
	a := model(1)
	e2etest.Step(t, a, tokens, targets, MaxBatch, MaxSeq)
	want := e2etest.Grads(a)

	b := model(1)
	if _, err := b.Forward(tokens, targets, MaxBatch, MaxSeq); err != nil {
		t.Fatal(err)
	}
	stats := b.RoutingStats()
	other, _ := e2etest.Batch(9, Vocab, 2, MaxSeq-1, false)
	if _, err := b.Infer(other, 2, MaxSeq-1); err != nil {
		t.Fatal(err)
	}
	if !e2etest.SameRouting(stats, b.RoutingStats()) {
		t.Error("Infer changed the routing statistics of the last Forward")
	}
	b.Backward()
	got := e2etest.Grads(b)
	for i := range want {
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Fatalf("parameter %d element %d: gradient %v after an Infer, %v without", i, j, got[i][j], want[i][j])
			}
		}
	}
}

// TestBadShapes: a batch of one sequence cannot be routed by expert choice
// over group position (each expert would take floor(1·2/4) = 0 tokens):
// Forward and Infer return an error naming the layer, change nothing, and
// a Backward after the failed Forward does nothing.
func TestBadShapes(t *testing.T) {
	m := model(1)
	tokens, targets := e2etest.Batch(8, Vocab, MaxBatch, MaxSeq, true)
	e2etest.Step(t, m, tokens, targets, MaxBatch, MaxSeq)
	want := e2etest.Grads(m)
	stats := m.RoutingStats()
	one, oneTargets := e2etest.Batch(9, Vocab, 1, MaxSeq, true)
	_, err := m.Forward(one, oneTargets, 1, MaxSeq)
	if err == nil || !strings.Contains(err.Error(), "moemodel: blocks.0.ec: ") || !strings.Contains(err.Error(), "expert choice") {
		t.Errorf("Forward with one sequence: %v", err)
	}
	if _, err := m.Infer(one, 1, MaxSeq); err == nil || !strings.Contains(err.Error(), "blocks.0.ec") {
		t.Errorf("Infer with one sequence: %v", err)
	}
	if !e2etest.SameRouting(stats, m.RoutingStats()) {
		t.Error("a failed Forward changed the routing statistics")
	}
	m.Backward()
	got := e2etest.Grads(m)
	for i := range want {
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Fatal("Backward after a failed Forward changed the gradients")
			}
		}
	}
	for _, c := range []struct{ batch, seq int }{{0, 1}, {MaxBatch + 1, 1}, {2, MaxSeq + 1}} {
		tok := make([]int32, max(c.batch*c.seq, 0))
		if _, err := m.Forward(tok, tok, c.batch, c.seq); err == nil {
			t.Errorf("Forward of %d×%d: no error", c.batch, c.seq)
		}
		if _, err := m.Infer(tok, c.batch, c.seq); err == nil {
			t.Errorf("Infer of %d×%d: no error", c.batch, c.seq)
		}
	}
}

func TestNumParams(t *testing.T) {
	n := 0
	for _, p := range New(Options{}).Params() {
		n += len(p.Data)
		if len(p.Grad) != len(p.Data) {
			t.Errorf("%s: %d gradients for %d elements", p.Name, len(p.Grad), len(p.Data))
		}
		switch {
		case strings.HasSuffix(p.Name, ".router") && p.Decay,
			strings.Contains(p.Name, ".experts.") && !p.Decay:
			t.Errorf("%s: decay %v", p.Name, p.Decay)
		}
	}
	if n != NumParams {
		t.Errorf("parameters hold %d elements, NumParams is %d", n, NumParams)
	}
}

func formatStats(s []moe.LayerStats) string { return moe.FormatStats(s) }
