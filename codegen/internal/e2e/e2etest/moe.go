package e2etest

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/bfcdev/bfc/runtime/kernels"
	"github.com/bfcdev/bfc/runtime/moe"
	"github.com/bfcdev/bfc/runtime/tensor"
)

// Routed is the API of a generated training package with moe layers.
type Routed[F kernels.Float] interface {
	Model[F]
	Losses() (ce, aux F)
	RoutingStats() []moe.LayerStats
}

// SameRouting reports whether two snapshots of routing statistics agree:
// every layer's load per expert, its counts of tokens by number of
// experts, and its drops.
func SameRouting(a, b []moe.LayerStats) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Tokens != b[i].Tokens || a[i].PerToken != b[i].PerToken ||
			a[i].Dropped != b[i].Dropped || a[i].Choices != b[i].Choices || !slices.Equal(a[i].Load, b[i].Load) {
			return false
		}
	}
	return true
}

// GradCheckRouted is GradCheck for models with moe layers. Routing is
// piecewise constant in the parameters, so a central difference means
// something only if no routing decision changes between x-h and x+h. For
// every sampled element the check runs Forward at x+h and x-h and compares
// the routing statistics (RoutingStats: loads, tokens by number of
// experts, drops) with those at x. When they differ, the point is too close
// to a routing boundary: it logs the element and starts over on the model
// and batch of the next seed (fresh and draw), failing when none of 20
// seeds keeps the routing unchanged at every sampled point. It skips
// nothing silently: the seeds given up are logged.
func GradCheckRouted(t *testing.T, fresh func(seed uint64) Routed[float64], draw func(seed uint64) (tokens, targets []int32), batch, seq int) {
	t.Helper()
	for seed := uint64(1); seed <= 20; seed++ {
		m := fresh(seed)
		tokens, targets := draw(seed)
		flip, errs, checked := gradCheckRouted(m, tokens, targets, batch, seq)
		if flip != "" {
			t.Logf("seed %d: %s; trying the next seed", seed, flip)
			continue
		}
		for _, e := range errs {
			t.Error(e)
		}
		t.Logf("seed %d: %d elements of %d parameters checked, routing unchanged at every point", seed, checked, len(m.Params()))
		return
	}
	t.Fatal("no seed of 20 keeps the routing unchanged under every sampled step")
}

func gradCheckRouted(m Routed[float64], tokens, targets []int32, batch, seq int) (flip string, errs []string, checked int) {
	loss := func() (float64, error) { return m.Forward(tokens, targets, batch, seq) }
	if _, err := loss(); err != nil {
		return "", []string{err.Error()}, 0
	}
	base := m.RoutingStats()
	m.Backward()
	params := m.Params()
	grads := make([][]float64, len(params))
	for i, p := range params {
		grads[i] = slices.Clone(p.Grad)
	}
	const h = 1e-5
	r := tensor.NewRNG(99)
	for pi, p := range params {
		nonzero := false
		for _, g := range grads[pi] {
			nonzero = nonzero || g != 0
		}
		if !nonzero {
			errs = append(errs, fmt.Sprintf("%s: gradient is zero everywhere", p.Name))
		}
		idx := []int{0, len(p.Data) - 1}
		for range 4 {
			idx = append(idx, r.Intn(len(p.Data)))
		}
		for _, i := range idx {
			x := p.Data[i]
			var f [2]float64
			for j, dx := range []float64{h, -h} {
				p.Data[i] = x + dx
				l, err := loss()
				if err != nil {
					p.Data[i] = x
					return "", []string{err.Error()}, checked
				}
				f[j] = l
				if st := m.RoutingStats(); !SameRouting(st, base) {
					p.Data[i] = x
					return fmt.Sprintf("the routing changes at %s[%d]%+g:\n%s\nwas\n%s", p.Name, i, dx,
						strings.TrimSpace(moe.FormatStats(st)), strings.TrimSpace(moe.FormatStats(base))), nil, checked
				}
			}
			p.Data[i] = x
			num, got := (f[0]-f[1])/(2*h), grads[pi][i]
			if math.Abs(num-got) > 1e-7+1e-5*math.Max(math.Abs(num), math.Abs(got)) {
				errs = append(errs, fmt.Sprintf("%s[%d]: backward %.10g, central difference %.10g", p.Name, i, got, num))
			}
			checked++
		}
	}
	return "", errs, checked
}

// rowOf returns the logits of sequence b at position s of an Infer result
// for sequences of seq tokens.
func rowOf[F kernels.Float](logits []F, seq, vocab, b, s int) []F {
	r := b*seq + s
	return logits[r*vocab : (r+1)*vocab]
}

// FutureIndependent checks property (a) of causal routing: changing the
// token at position s of one sequence leaves every logit at positions
// before s, of every sequence of the batch, bit-identical. It tries every
// sequence b, position s >= 1 and a few replacement tokens.
func FutureIndependent[F kernels.Float](t *testing.T, m Inferer[F], tokens []int32, batch, seq, vocab int) {
	t.Helper()
	full, err := m.Infer(tokens, batch, seq)
	if err != nil {
		t.Fatal(err)
	}
	full = slices.Clone(full)
	changed := slices.Clone(tokens)
	tried := 0
	for b := range batch {
		for s := 1; s < seq; s++ {
			for _, v := range []int32{0, int32(vocab / 2), int32(vocab - 1)} {
				i := b*seq + s
				if v == tokens[i] {
					continue
				}
				copy(changed, tokens)
				changed[i] = v
				got, err := m.Infer(changed, batch, seq)
				if err != nil {
					t.Fatal(err)
				}
				tried++
				for bb := range batch {
					for ss := range s {
						if !slices.Equal(rowOf(got, seq, vocab, bb, ss), rowOf(full, seq, vocab, bb, ss)) {
							t.Fatalf("changing token %d of sequence %d changed the logits of sequence %d at earlier position %d", s, b, bb, ss)
						}
					}
				}
			}
		}
	}
	t.Logf("%d changes of a later token, earlier logits bit-identical", tried)
}

// FutureDependent is the opposite of FutureIndependent: it requires some
// change of a token to change a logit at an earlier position (a routing
// leak), and returns how many changes of the tried ones leaked.
func FutureDependent[F kernels.Float](t *testing.T, m Inferer[F], tokens []int32, batch, seq, vocab int) int {
	t.Helper()
	full, err := m.Infer(tokens, batch, seq)
	if err != nil {
		t.Fatal(err)
	}
	full = slices.Clone(full)
	changed := slices.Clone(tokens)
	tried, leaks := 0, 0
	for b := range batch {
		for s := 1; s < seq; s++ {
			for v := range int32(vocab) {
				i := b*seq + s
				if v == tokens[i] {
					continue
				}
				copy(changed, tokens)
				changed[i] = v
				got, err := m.Infer(changed, batch, seq)
				if err != nil {
					t.Fatal(err)
				}
				tried++
				leak := false
				for bb := range batch {
					for ss := range s {
						leak = leak || !slices.Equal(rowOf(got, seq, vocab, bb, ss), rowOf(full, seq, vocab, bb, ss))
					}
				}
				if leak {
					leaks++
				}
			}
		}
	}
	if leaks == 0 {
		t.Errorf("none of %d changes of a later token changed an earlier logit", tried)
	}
	t.Logf("%d of %d changes of a later token changed earlier logits", leaks, tried)
	return leaks
}

// Lockstep checks incremental decoding in lockstep: for s = 1..seq, Infer
// on the first s tokens of every sequence of the batch gives, at position
// s-1, the logits the full-sequence Infer gives there, within tol
// (absolute, for logits of order 1).
func Lockstep[F kernels.Float](t *testing.T, m Inferer[F], tokens []int32, batch, seq, vocab int, tol float64) {
	t.Helper()
	full, err := m.Infer(tokens, batch, seq)
	if err != nil {
		t.Fatal(err)
	}
	full = slices.Clone(full)
	prefix := make([]int32, 0, len(tokens))
	worst := 0.0
	for s := 1; s <= seq; s++ {
		prefix = prefix[:0]
		for b := range batch {
			prefix = append(prefix, tokens[b*seq:b*seq+s]...)
		}
		got, err := m.Infer(prefix, batch, s)
		if err != nil {
			t.Fatalf("prefix %d: %v", s, err)
		}
		for b := range batch {
			g, w := rowOf(got, s, vocab, b, s-1), rowOf(full, seq, vocab, b, s-1)
			for i := range w {
				d := math.Abs(float64(g[i]) - float64(w[i]))
				worst = math.Max(worst, d)
				if d > tol {
					t.Fatalf("sequence %d, position %d: logit %d is %v decoding in lockstep, %v on the full sequences", b, s-1, i, g[i], w[i])
				}
			}
		}
	}
	t.Logf("lockstep decoding of %d×%d: worst logit difference %.3g", batch, seq, worst)
}
