package parity

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/bfcdev/bfc/parity/densebf16"
	"github.com/bfcdev/bfc/parity/referencebf16"
	"github.com/bfcdev/bfc/runtime/kernels"
	"github.com/bfcdev/bfc/runtime/safetensors"
)

// Tolerances of bfc's bf16 precision against the twin under
// torch.autocast("cpu", dtype=torch.bfloat16), as relative error norms
// ‖go − torch‖₂ / ‖torch‖₂. Both round matmul operands to bfloat16; autocast
// also rounds each matmul's output (and so runs the activations on
// bfloat16), where bfc keeps float32 sums: the two differ by bfloat16's
// rounding, about 2⁻⁹ per operand, not by float32's.
const (
	autocastLossTol   = 5e-3
	autocastLogitsTol = 2e-2
	autocastGradTol   = 6e-2
)

// routeTieGap is how close (relative) two tokens' probabilities for an
// expert must be for bf16 and autocast to disagree on which of them it
// takes: a tie within bfloat16's noise on the router's input.
const routeTieGap = 5e-2

// compareRoutingNearTies checks expert-choice routing against the twin's
// where bfloat16 noise may break near ties: every token one side's expert
// took and the other's did not must be within gap of a token the other
// took instead, by the twin's probabilities.
func compareRoutingNearTies(t *testing.T, f *safetensors.File, m sparseModel, T int, gap float64) {
	t.Helper()
	flips := 0
	for _, rt := range m.Routes() {
		tt, ok := f.Get("route." + rt.Name + ".taken")
		pt, ok2 := f.Get("route." + rt.Name + ".probs")
		if !ok || !ok2 {
			t.Fatalf("the twin wrote no routing for %s", rt.Name)
		}
		taken, err := tt.Int32()
		if err != nil {
			t.Fatal(err)
		}
		probs, err := pt.Float32()
		if err != nil {
			t.Fatal(err)
		}
		E := len(rt.Tokens)
		for e, toks := range rt.Tokens {
			goTook := make([]bool, T)
			for _, tok := range toks {
				goTook[tok] = true
			}
			var onlyGo, onlyTorch []int
			for tok := range T {
				switch tw := taken[e*T+tok] == 1; {
				case goTook[tok] && !tw:
					onlyGo = append(onlyGo, tok)
				case tw && !goTook[tok]:
					onlyTorch = append(onlyTorch, tok)
				}
			}
			if len(onlyGo) != len(onlyTorch) {
				t.Errorf("%s expert %d: go took %d tokens the twin did not, the twin %d", rt.Name, e, len(onlyGo), len(onlyTorch))
				continue
			}
			// The twin's threshold: the lowest probability it took.
			thr := math.Inf(1)
			for tok := range T {
				if taken[e*T+tok] == 1 {
					thr = math.Min(thr, float64(probs[tok*E+e]))
				}
			}
			for _, tok := range append(onlyGo, onlyTorch...) {
				if p := float64(probs[tok*E+e]); math.Abs(p-thr) > gap*thr {
					t.Errorf("%s expert %d: token %d (p %.4g) taken by one side only, not within %g of the twin's threshold %.4g", rt.Name, e, tok, p, gap, thr)
				}
			}
			flips += len(onlyGo)
		}
	}
	t.Logf("routing agrees but for %d near ties (within %g)", flips, gap)
}

// normErr is ‖got − want‖₂ / ‖want‖₂ against the twin's tensor name.
func normErr(t *testing.T, f *safetensors.File, name string, got []float32) float64 {
	t.Helper()
	tt, ok := f.Get(name)
	if !ok {
		t.Fatalf("the twin wrote no tensor %q", name)
	}
	var want []float64
	if tt.DType == "F64" {
		w, err := tt.Float64()
		if err != nil {
			t.Fatal(err)
		}
		want = w
	} else {
		w, err := tt.Float32()
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range w {
			want = append(want, float64(v))
		}
	}
	if len(want) != len(got) {
		t.Fatalf("%s: %d elements from the twin, %d from Go", name, len(want), len(got))
	}
	var d, n float64
	for i, w := range want {
		e := float64(got[i]) - w
		d += e * e
		n += w * w
	}
	if n == 0 {
		return math.Sqrt(d)
	}
	return math.Sqrt(d / n)
}

// compareAutocast checks loss, logits and gradients of a bf16 build against
// the twin under autocast, and logs how far the float64 twin is from both.
func compareAutocast(t *testing.T, auto, exact *safetensors.File, m model, loss float32, logits []float32) {
	t.Helper()
	check := func(name string, got []float32, tol float64) float64 {
		e := normErr(t, auto, name, got)
		if e > tol {
			t.Errorf("%s: relative error norm %.3g against autocast > %g", name, e, tol)
		}
		return e
	}
	le := check("loss", []float32{loss}, autocastLossTol)
	lg := check("logits", logits, autocastLogitsTol)
	var ge, gx float64
	worst := ""
	for _, p := range m.Params() {
		if e := check("grad."+p.Name, p.Grad, autocastGradTol); e > ge {
			ge, worst = e, p.Name
		}
		gx = math.Max(gx, normErr(t, exact, "grad."+p.Name, p.Grad))
	}
	// bf16 must show: the float64 twin is further from bfc's bf16 than
	// float32 rounding would put it.
	if gx < 1e-4 {
		t.Errorf("bf16 gradients within %.3g of float64's: bfloat16 does not show", gx)
	}
	t.Logf("on %s, against autocast: loss %.2e, logits %.2e, gradients %.2e (%s); against float64: gradients %.2e",
		kernels.BF16Impl(), le, lg, ge, worst, gx)
}

// TestDenseAutocast: the dense parity model built in bf16 precision against
// the twin under bf16 autocast, on the same weights and batch.
func TestDenseAutocast(t *testing.T) {
	requireTorch(t)
	dir := t.TempDir()
	m := densebf16.New(densebf16.Options{Seed: 11})
	spreadParams(m.Params(), rand.New(rand.NewPCG(5, 5)))
	ckpt := filepath.Join(dir, "go.safetensors")
	if err := m.Save(ckpt); err != nil {
		t.Fatal(err)
	}
	tokens, targets, bpath := batch(t, dir, 1, densebf16.MaxBatch, densebf16.MaxSeq, densebf16.Vocab)
	auto := runTwin(t, dir, denseConfig(), "--params", ckpt, "--batch", bpath, "--dtype", "float32", "--autocast")
	exact := runTwin(t, filepath.Join(dir), denseConfig(), "--params", ckpt, "--batch", bpath)
	loss, logits := goPass(t, m, tokens, targets, densebf16.MaxBatch, densebf16.MaxSeq)
	compareAutocast(t, auto, exact, m, loss, logits)
}

// TestReferenceAutocast: the reduced reference block (expert choice) in
// bf16 against the twin under autocast: the same routing decisions, and
// loss, logits and gradients within the tolerances.
func TestReferenceAutocast(t *testing.T) {
	requireTorch(t)
	dir := t.TempDir()
	m := referencebf16.New(referencebf16.Options{Seed: 13})
	spreadParams(m.Params(), rand.New(rand.NewPCG(13, 13)))
	ckpt := filepath.Join(dir, "go.safetensors")
	if err := m.Save(ckpt); err != nil {
		t.Fatal(err)
	}
	b, s := referencebf16.MaxBatch, referencebf16.MaxSeq
	tokens, targets, bpath := batch(t, dir, 13, b, s, referencebf16.Vocab)
	auto := runTwin(t, dir, referenceConfig(), "--params", ckpt, "--batch", bpath, "--dtype", "float32", "--autocast")
	exact := runTwin(t, dir, referenceConfig(), "--params", ckpt, "--batch", bpath)
	loss, logits := goPass(t, m, tokens, targets, b, s)
	compareRoutingNearTies(t, auto, m, b*s, routeTieGap)
	compareAutocast(t, auto, exact, m, loss, logits)
}
