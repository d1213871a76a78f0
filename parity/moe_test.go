package parity

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bfcdev/bfc/parity/moemodel"
	"github.com/bfcdev/bfc/runtime/moe"
	"github.com/bfcdev/bfc/runtime/optim"
	"github.com/bfcdev/bfc/runtime/safetensors"
	"github.com/bfcdev/bfc/runtime/tensor"
)

// moeConfig describes moemodel (moe.bf) to the twin: the standard blocks by
// name with the arguments moe.bf gives them; the twin expands them from the
// block definitions.
func moeConfig() string {
	d, h, e := moemodel.D, moemodel.Heads, moemodel.Experts
	return fmt.Sprintf(`{"kind":"model","vocab":%d,"d":%d,"max_seq":%d,"eps":1e-6,"head":"untied","blocks":[`+
		`{"block":"GLaM","d":%d,"heads":%d,"experts":%d,"hidden":%d,"capacity":1,"aux":0.01,"zloss":0.001},`+
		`{"block":"Switch","d":%d,"heads":%d,"experts":%d,"hidden":%d,"capacity":1,"aux":0.01,"zloss":0.001},`+
		`{"block":"Brainformer6","d":%d,"heads":%d,"experts":%d,"capacity":1,"zloss":0.001}]}`,
		moemodel.Vocab, d, moemodel.MaxSeq, d, h, e, 2*d, d, h, e, 2*d, d, h, e)
}

// moeBlocks names the blocks of moemodel, blocks.0 to blocks.2.
var moeBlocks = []string{"GLaM", "Switch", "Brainformer6"}

// sparseModel is what the sparse parity tests use of a generated model.
type sparseModel interface {
	model
	Losses() (ce, aux float32)
	RoutingStats() []moe.LayerStats
	Routes() []moe.LayerRoutes
}

// blockOf names the block of a parameter for the per-block report: blocks[i]
// for blocks.<i>, embed/head for the rest.
func blockOf(name string, blocks []string) string {
	for i, b := range blocks {
		if strings.HasPrefix(name, fmt.Sprintf("blocks.%d.", i)) {
			return b
		}
	}
	return "embed/head"
}

// perBlock formats the largest error of every block, then embed/head.
func perBlock(worst map[string]float64, blocks []string) string {
	var parts []string
	for _, b := range append(slices.Clone(blocks), "embed/head") {
		parts = append(parts, fmt.Sprintf("%s %.2e", b, worst[b]))
	}
	return strings.Join(parts, ", ")
}

// compareMoE compares loss (cross-entropy and router losses), logits, every
// gradient and the routing decisions of every moe layer, and logs the
// largest relative error per block (blocks names blocks.0, blocks.1, ...).
func compareMoE(t *testing.T, f *safetensors.File, m sparseModel, blocks []string, T int, loss float32, logits []float32) {
	t.Helper()
	ce, _ := m.Losses()
	le, _ := compare(t, f, "loss", []float32{loss})
	cee, _ := compare(t, f, "ce", []float32{ce})
	lg, _ := compare(t, f, "logits", logits)
	worst := map[string]float64{}
	for _, p := range m.Params() {
		e, _ := compare(t, f, "grad."+p.Name, p.Grad)
		b := blockOf(p.Name, blocks)
		worst[b] = math.Max(worst[b], e)
	}
	t.Logf("largest relative errors (floored): loss %.2e, ce %.2e, logits %.2e; gradients: %s",
		le, cee, lg, perBlock(worst, blocks))
	compareRouting(t, f, m, T)
}

// compareRouting checks Go's routing decisions (Routes) against the twin's:
// per moe layer which tokens each expert processed and which top-k choices
// were dropped, and the statistics (RoutingStats) derived from them.
func compareRouting(t *testing.T, f *safetensors.File, m sparseModel, T int) {
	t.Helper()
	ints := func(name string) []int32 {
		tt, ok := f.Get(name)
		if !ok {
			t.Fatalf("the twin wrote no tensor %q", name)
		}
		v, err := tt.Int32()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	same := func(what string, got []int, want []int32) {
		ok := len(got) == len(want)
		for i := 0; ok && i < len(got); i++ {
			ok = got[i] == int(want[i])
		}
		if !ok {
			t.Errorf("%s: go %v, torch %v", what, got, want)
		}
	}
	routes := m.Routes()
	var drops []string
	for i, ls := range m.RoutingStats() {
		name := ls.Name
		same(name+" load per expert", ls.Load, ints("route."+name+".load"))
		same(name+" tokens by experts (0, 1, 2, 3+)", ls.PerToken[:], ints("route."+name+".per_token"))
		same(name+" dropped", []int{ls.Dropped}, ints("route."+name+".dropped"))

		rt := routes[i]
		if rt.Name != name {
			t.Fatalf("Routes()[%d] is %s, RoutingStats()[%d] %s", i, rt.Name, i, name)
		}
		taken := ints("route." + name + ".taken")
		for e, toks := range rt.Tokens {
			got := make([]int, T)
			for _, tok := range toks {
				got[tok] = 1
			}
			same(fmt.Sprintf("%s expert %d: tokens taken (1 per token b·seq+s)", name, e), got, taken[e*T:(e+1)*T])
		}
		if ls.Choices > 0 {
			k := ls.Choices / T
			got := make([]int, T*k)
			for _, c := range rt.Dropped {
				got[int(c.Token)*k+int(c.Rank)] = 1
			}
			same(name+" dropped choices (token, rank)", got, ints("route."+name+".drop"))
			if ls.Dropped == 0 {
				t.Errorf("%s dropped no choice: the batch no longer exercises top-k overflow", name)
			}
		}
		drops = append(drops, fmt.Sprintf("%s %d/%d", name, ls.Dropped, ls.Choices))
	}
	t.Logf("routing agrees (tokens per expert, dropped choices); dropped: %s", strings.Join(drops, ", "))
}

// spreadParams moves norm scales off 1, so that the comparison exercises
// them, and spreads router weights, so that no routing decision sits within
// float32 rounding of a tie.
func spreadParams(params []tensor.Param[float32], r *rand.Rand) {
	for _, p := range params {
		switch {
		case strings.HasSuffix(p.Name, "norm.scale"):
			for i := range p.Data {
				p.Data[i] = 1 + 0.1*float32(r.NormFloat64())
			}
		case strings.HasSuffix(p.Name, ".router"):
			for i := range p.Data {
				p.Data[i] = 0.5 * float32(r.NormFloat64())
			}
		}
	}
}

// TestMoEGoToTorch: generated Go's checkpoint of the sparse blocks loads in
// the twin, and loss, logits, gradients and routing agree on one batch.
func TestMoEGoToTorch(t *testing.T) {
	requireTorch(t)
	dir := t.TempDir()
	m := moemodel.New(moemodel.Options{Seed: 3})
	spreadParams(m.Params(), rand.New(rand.NewPCG(5, 6)))
	ckpt := filepath.Join(dir, "go.safetensors")
	if err := m.Save(ckpt); err != nil {
		t.Fatal(err)
	}
	tokens, targets, bpath := batch(t, dir, 3, moemodel.MaxBatch, moemodel.MaxSeq, moemodel.Vocab)
	f := runTwin(t, dir, moeConfig(), "--params", ckpt, "--batch", bpath)
	loss, logits := goPass(t, m, tokens, targets, moemodel.MaxBatch, moemodel.MaxSeq)
	compareMoE(t, f, m, moeBlocks, moemodel.MaxBatch*moemodel.MaxSeq, loss, logits)
}

// TestMoETorchToGo: the twin's checkpoint loads in generated Go, and loss,
// logits, gradients and routing agree.
func TestMoETorchToGo(t *testing.T) {
	requireTorch(t)
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "torch.safetensors")
	tokens, targets, bpath := batch(t, dir, 4, moemodel.MaxBatch, moemodel.MaxSeq, moemodel.Vocab)
	f := runTwin(t, dir, moeConfig(), "--init", "8", "--write-params", ckpt, "--batch", bpath)
	m, err := moemodel.Load(ckpt)
	if err != nil {
		t.Fatalf("generated Go cannot load the twin's checkpoint: %v", err)
	}
	loss, logits := goPass(t, m, tokens, targets, moemodel.MaxBatch, moemodel.MaxSeq)
	compareMoE(t, f, m, moeBlocks, moemodel.MaxBatch*moemodel.MaxSeq, loss, logits)
}

// TestMoEAdamW: three AdamW steps on the batch (runtime/optim.StepAdamW in
// Go, torch.optim.AdamW in the twin, weight decay only on the parameters
// bfc decays: not norm scales and routers). Two comparisons:
//
//   - optimizer: the twin steps with the gradients Go used at each step, so
//     only the update rule differs; the parameters agree to float32 rounding.
//   - training: each side steps with its own gradients. Adam divides each
//     element's gradient by its own running RMS, so an element whose
//     gradient is tiny next to its tensor's (within the floor of the
//     gradient tolerance) moves by up to lr whatever its size, and float32
//     rounding of that small gradient shows in the step: the bound there is
//     on the difference of the updates, in units of lr, not on parameters.
func TestMoEAdamW(t *testing.T) {
	requireTorch(t)
	const steps = 3
	cfg := optim.AdamWConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1}
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "torch.safetensors")
	tokens, targets, bpath := batch(t, dir, 5, moemodel.MaxBatch, moemodel.MaxSeq, moemodel.Vocab)
	adamw := func(grads string) string {
		return fmt.Sprintf(`{"lr":%g,"beta1":%g,"beta2":%g,"eps":%g,"weight_decay":%g,"steps":%d,"grads":%q}`,
			cfg.LR, cfg.Beta1, cfg.Beta2, cfg.Eps, cfg.WeightDecay, steps, grads)
	}
	own := runTwin(t, dir, moeConfig(), "--init", "9", "--write-params", ckpt, "--batch", bpath, "--adamw", adamw(""))
	m, err := moemodel.Load(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	var before []float32
	for _, p := range m.Params() {
		before = append(before, p.Data...)
	}
	o := optim.NewAdamW(cfg)
	var grads []safetensors.Tensor
	for step := range steps {
		goPass(t, m, tokens, targets, moemodel.MaxBatch, moemodel.MaxSeq)
		for _, p := range m.Params() {
			grads = append(grads, safetensors.FromFloat32(fmt.Sprintf("step%d.%s", step, p.Name), p.Shape, slices.Clone(p.Grad)))
		}
		optim.StepAdamW(o, m.Params(), cfg.LR)
	}
	gpath := filepath.Join(dir, "grads.safetensors")
	if err := safetensors.Save(gpath, grads, nil); err != nil {
		t.Fatal(err)
	}
	shared := runTwin(t, dir, moeConfig(), "--params", ckpt, "--batch", bpath, "--adamw", adamw(gpath))

	// Optimizer: same gradients, same parameters.
	worst := map[string]float64{}
	for _, p := range m.Params() {
		e, _ := compare(t, shared, "adamw."+p.Name, p.Data)
		b := blockOf(p.Name, moeBlocks)
		worst[b] = math.Max(worst[b], e)
	}
	t.Logf("optimizer (Go's gradients on both sides): parameters after %d steps, largest relative errors (floored): %s",
		steps, perBlock(worst, moeBlocks))

	// Training: own gradients; the updates agree within updTol·lr.
	const updTol = 0.2
	var worstUpd float64
	off := 0
	for _, p := range m.Params() {
		tt, ok := own.Get("adamw." + p.Name)
		if !ok {
			t.Fatalf("the twin wrote no adamw.%s", p.Name)
		}
		want, err := tt.Float32()
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range p.Data {
			// Both started from before: the parameters' difference is
			// the updates' difference.
			d := math.Abs(float64(v)-float64(want[i])) / cfg.LR
			if d > worstUpd {
				worstUpd = d
			}
			if d > updTol {
				t.Errorf("%s[%d]: updates differ by %.3g·lr: go %g, torch %g (from %g)", p.Name, i, d, v, want[i], before[off+i])
			}
		}
		off += len(p.Data)
	}
	t.Logf("training (own gradients): largest difference of the %d-step updates %.2e·lr", steps, worstUpd)
}
