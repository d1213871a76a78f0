package routecheck

import (
	"math"
	"slices"
	"testing"

	"github.com/bfcdev/bfc/compiler/ir"
)

func TestProbs(t *testing.T) {
	// Two tokens, d = 2, E = 3; wg picks out the coordinates.
	x := []float64{1, 0, 0, 2}
	wg := []float64{1, 0, 0, 0, 1, -1}
	p := Probs(x, wg, 2, 2, 3)
	want := func(l []float64) []float64 {
		s := 0.0
		for _, v := range l {
			s += math.Exp(v)
		}
		out := make([]float64, len(l))
		for i, v := range l {
			out[i] = math.Exp(v) / s
		}
		return out
	}
	exp := append(want([]float64{1, 0, 0}), want([]float64{0, 2, -2})...)
	for i := range exp {
		if math.Abs(p[i]-exp[i]) > 1e-15 {
			t.Errorf("probs %v, want %v", p, exp)
			break
		}
	}
}

func TestGroups(t *testing.T) {
	for group, want := range map[string][][]int{
		"batch":    {{0, 1, 2, 3, 4, 5}},
		"sequence": {{0, 1, 2}, {3, 4, 5}},
		"position": {{0, 3}, {1, 4}, {2, 5}},
	} {
		got := Groups(group, 2, 3)
		if len(got) != len(want) {
			t.Fatalf("%s: %v, want %v", group, got, want)
		}
		for i := range want {
			if !slices.Equal(got[i], want[i]) {
				t.Errorf("%s: %v, want %v", group, got, want)
			}
		}
	}
}

func TestMargin(t *testing.T) {
	// Four tokens (batch 2 × seq 2), two experts.
	probs := []float64{
		0.9, 0.1,
		0.6, 0.4,
		0.55, 0.45,
		0.2, 0.8,
	}
	ec := &ir.MoEAttrs{Experts: 2, Rule: ir.RuleExpertChoice, Capacity: 1, Group: "batch"}
	// One group of 4: k = 2. Expert 0 sorted 0.9 0.6 | 0.55 0.2: gap 0.05;
	// expert 1 sorted 0.8 0.45 | 0.4 0.1: gap 0.05.
	if m := Margin(ec, probs, 2, 2); math.Abs(m-0.05) > 1e-12 {
		t.Errorf("expert choice, group batch: %v, want 0.05", m)
	}
	// Groups of 2 by position, k = 1: position 0 holds tokens 0 and 2
	// (expert 0: 0.9 vs 0.55, expert 1: 0.45 vs 0.1), position 1 tokens 1
	// and 3 (0.6 vs 0.2, 0.8 vs 0.4): smallest gap 0.35.
	ec.Group = "position"
	if m := Margin(ec, probs, 2, 2); math.Abs(m-0.35) > 1e-12 {
		t.Errorf("expert choice, group position: %v, want 0.35", m)
	}
	// k = n: nothing to decide.
	ec.Capacity = 2
	if m := Margin(ec, probs, 2, 2); !math.IsInf(m, 1) {
		t.Errorf("expert choice taking every token: %v, want +Inf", m)
	}
	// Top-1: each token's gap between its two probabilities; the smallest
	// is token 2's 0.1.
	tk := &ir.MoEAttrs{Experts: 2, Rule: ir.RuleTopK, K: 1, Capacity: 1, Group: "batch"}
	if m := Margin(tk, probs, 2, 2); math.Abs(m-0.1) > 1e-12 {
		t.Errorf("top-1: %v, want 0.1", m)
	}
	// Top-2 of 2 experts: the ranking still sets the placement priority.
	tk.K = 2
	if m := Margin(tk, probs, 2, 2); math.Abs(m-0.1) > 1e-12 {
		t.Errorf("top-2: %v, want 0.1", m)
	}
}
