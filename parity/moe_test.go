package parity

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bfcdev/bfc/parity/moemodel"
	"github.com/bfcdev/bfc/runtime/safetensors"
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

// moeBlock names the block of a parameter for the per-block report.
func moeBlock(name string) string {
	switch {
	case strings.HasPrefix(name, "blocks.0."):
		return "GLaM"
	case strings.HasPrefix(name, "blocks.1."):
		return "Switch"
	case strings.HasPrefix(name, "blocks.2."):
		return "Brainformer6"
	}
	return "embed/head"
}

// compareMoE compares loss (cross-entropy and router losses), logits, every
// gradient and the routing statistics of every moe layer, and logs the
// largest relative error per block.
func compareMoE(t *testing.T, f *safetensors.File, m *moemodel.Model, loss float32, logits []float32) {
	t.Helper()
	ce, _ := m.Losses()
	le, _ := compare(t, f, "loss", []float32{loss})
	cee, _ := compare(t, f, "ce", []float32{ce})
	lg, _ := compare(t, f, "logits", logits)
	worst := map[string]float64{}
	for _, p := range m.Params() {
		e, _ := compare(t, f, "grad."+p.Name, p.Grad)
		b := moeBlock(p.Name)
		worst[b] = math.Max(worst[b], e)
	}
	t.Logf("largest relative errors (floored): loss %.2e, ce %.2e, logits %.2e; gradients: GLaM %.2e, Switch %.2e, Brainformer6 %.2e, embed/head %.2e",
		le, cee, lg, worst["GLaM"], worst["Switch"], worst["Brainformer6"], worst["embed/head"])
	compareRouting(t, f, m)
}

// compareRouting checks Go's routing decisions (Routes) against the twin's:
// per moe layer which tokens each expert processed and which top-k choices
// were dropped, and the statistics (RoutingStats) derived from them.
func compareRouting(t *testing.T, f *safetensors.File, m *moemodel.Model) {
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
	T := moemodel.MaxBatch * moemodel.MaxSeq
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

// TestMoEGoToTorch: generated Go's checkpoint of the sparse blocks loads in
// the twin, and loss, logits, gradients and routing agree on one batch.
func TestMoEGoToTorch(t *testing.T) {
	requireTorch(t)
	dir := t.TempDir()
	m := moemodel.New(moemodel.Options{Seed: 3})
	r := rand.New(rand.NewPCG(5, 6))
	for _, p := range m.Params() {
		switch {
		case strings.HasSuffix(p.Name, "norm.scale"):
			for i := range p.Data {
				p.Data[i] = 1 + 0.1*float32(r.NormFloat64())
			}
		case strings.HasSuffix(p.Name, ".router"):
			// Spread the router's probabilities so that no routing
			// decision sits within float32 rounding of a tie.
			for i := range p.Data {
				p.Data[i] = 0.5 * float32(r.NormFloat64())
			}
		}
	}
	ckpt := filepath.Join(dir, "go.safetensors")
	if err := m.Save(ckpt); err != nil {
		t.Fatal(err)
	}
	tokens, targets, bpath := batch(t, dir, 3, moemodel.MaxBatch, moemodel.MaxSeq, moemodel.Vocab)
	f := runTwin(t, dir, moeConfig(), "--params", ckpt, "--batch", bpath)
	loss, logits := goPass(t, m, tokens, targets, moemodel.MaxBatch, moemodel.MaxSeq)
	compareMoE(t, f, m, loss, logits)
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
	compareMoE(t, f, m, loss, logits)
}
