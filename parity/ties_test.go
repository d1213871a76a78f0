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
	"github.com/bfcdev/bfc/parity/routesmodel"
	"github.com/bfcdev/bfc/runtime/moe"
	"github.com/bfcdev/bfc/runtime/tensor"
)

// tieLayer is what the tie rules need of one moe layer.
type tieLayer struct {
	rule     string // "expert_choice" or "top_k"
	k        int    // top_k's k; unused for expert choice
	group    string // "batch", "sequence" or "position"
	capacity float64
}

// groupsOf lists the routing groups of b×s tokens (flat index b·s'+s), each
// in group order: batch, all tokens; sequence, each sequence; position,
// each position in batch order.
func groupsOf(group string, b, s int) [][]int32 {
	var gs [][]int32
	switch group {
	case "batch":
		g := make([]int32, b*s)
		for i := range g {
			g[i] = int32(i)
		}
		gs = append(gs, g)
	case "sequence":
		for bi := range b {
			var g []int32
			for si := range s {
				g = append(g, int32(bi*s+si))
			}
			gs = append(gs, g)
		}
	case "position":
		for si := range s {
			var g []int32
			for bi := range b {
				g = append(g, int32(bi*s+si))
			}
			gs = append(gs, g)
		}
	}
	return gs
}

// tieRoutes is the routing of a layer whose probabilities all tie (1/E for
// every token and expert), from the tie rules alone: under expert choice
// each expert takes the first k = floor(n·c/E) members of every group (the
// lowest member indices); under top-k every token chooses experts 0..k-1
// (the lowest expert indices), and expert r takes the first
// C = ceil(k·n·c/E) members of each group for rank r, the rest of rank r
// dropped.
func tieRoutes(l tieLayer, e, b, s int) moe.Routes {
	r := moe.Routes{Tokens: make([][]int32, e)}
	for _, g := range groupsOf(l.group, b, s) {
		n := float64(len(g))
		if l.rule == "expert_choice" {
			k := int(math.Floor(n*l.capacity/float64(e) + 1e-9))
			for ex := range e {
				r.Tokens[ex] = append(r.Tokens[ex], g[:min(k, len(g))]...)
			}
			continue
		}
		c := int(math.Ceil(float64(l.k)*n*l.capacity/float64(e) - 1e-9))
		for rank := range l.k {
			r.Tokens[rank] = append(r.Tokens[rank], g[:min(c, len(g))]...)
			for _, tok := range g[min(c, len(g)):] {
				r.Dropped = append(r.Dropped, moe.Choice{Token: tok, Rank: int32(rank)})
			}
		}
	}
	for ex := range r.Tokens {
		slices.Sort(r.Tokens[ex])
	}
	slices.SortFunc(r.Dropped, func(a, b moe.Choice) int {
		if a.Token != b.Token {
			return int(a.Token - b.Token)
		}
		return int(a.Rank - b.Rank)
	})
	return r
}

// checkTies compares Go's Routes() with tieRoutes for every layer.
func checkTies(t *testing.T, m sparseModel, layers map[string]tieLayer, e, b, s int) {
	t.Helper()
	routes := m.Routes()
	if len(routes) != len(layers) {
		t.Fatalf("Routes() has %d layers, the test knows %d", len(routes), len(layers))
	}
	for _, lr := range routes {
		l, ok := layers[lr.Name]
		if !ok {
			t.Fatalf("no tie rule for layer %s", lr.Name)
		}
		want := tieRoutes(l, e, b, s)
		for ex := range e {
			got := lr.Tokens[ex]
			if !slices.Equal(got, want.Tokens[ex]) {
				t.Errorf("%s (%s, group %s) expert %d took %v, the tie rule %v", lr.Name, l.rule, l.group, ex, got, want.Tokens[ex])
			}
		}
		if !slices.Equal(lr.Dropped, want.Dropped) {
			t.Errorf("%s (%s, group %s) dropped %v, the tie rule %v", lr.Name, l.rule, l.group, lr.Dropped, want.Dropped)
		}
	}
}

// zeroRouters sets every router to zero, so that every routing probability
// is exactly 1/E in float32 and in float64, and moves the norm scales off 1.
func zeroRouters(ps []tensor.Param[float32], seed uint64) {
	r := rand.New(rand.NewPCG(seed, 9))
	for _, p := range ps {
		switch {
		case strings.HasSuffix(p.Name, ".router"):
			clear(p.Data)
		case strings.HasSuffix(p.Name, "norm.scale"):
			for i := range p.Data {
				p.Data[i] = 1 + 0.1*float32(r.NormFloat64())
			}
		}
	}
}

// TestTiesMoE: MoEParity with zero routers, every routing decision a tie.
// Go's Routes() must follow the tie rules (expert choice: lowest member
// indices per group; top-k: lowest expert indices), and the twin, loading
// Go's checkpoint, must agree on routing, loss, logits and gradients.
func TestTiesMoE(t *testing.T) {
	requireTorch(t)
	dir := t.TempDir()
	m := moemodel.New(moemodel.Options{Seed: 11})
	zeroRouters(m.Params(), 11)
	ckpt := filepath.Join(dir, "go.safetensors")
	if err := m.Save(ckpt); err != nil {
		t.Fatal(err)
	}
	b, s := moemodel.MaxBatch, moemodel.MaxSeq
	tokens, targets, bpath := batch(t, dir, 11, b, s, moemodel.Vocab)
	f := runTwin(t, dir, moeConfig(), "--params", ckpt, "--batch", bpath)
	loss, logits := goPass(t, m, tokens, targets, b, s)
	ec := tieLayer{rule: "expert_choice", group: "position", capacity: 1}
	checkTies(t, m, map[string]tieLayer{
		"blocks.0.moe":  {rule: "top_k", k: 2, group: "position", capacity: 1},
		"blocks.1.moe":  {rule: "top_k", k: 1, group: "batch", capacity: 1},
		"blocks.2.moe1": ec, "blocks.2.moe2": ec, "blocks.2.moe3": ec,
	}, moemodel.Experts, b, s)
	compareMoE(t, f, m, moeBlocks, b*s, loss, logits)
}

// TestTiesRoutes: the same on RoutesParity, whose layers route over the
// groups the standard blocks leave out (sequence, batch).
func TestTiesRoutes(t *testing.T) {
	requireTorch(t)
	dir := t.TempDir()
	m := routesmodel.New(routesmodel.Options{Seed: 12})
	zeroRouters(m.Params(), 12)
	ckpt := filepath.Join(dir, "go.safetensors")
	if err := m.Save(ckpt); err != nil {
		t.Fatal(err)
	}
	b, s := routesmodel.MaxBatch, routesmodel.MaxSeq
	tokens, targets, bpath := batch(t, dir, 12, b, s, routesmodel.Vocab)
	f := runTwin(t, dir, routesConfig(), "--params", ckpt, "--batch", bpath)
	loss, logits := goPass(t, m, tokens, targets, b, s)
	layers := map[string]tieLayer{
		"blocks.1.ecseq":   {rule: "expert_choice", group: "sequence", capacity: 1},
		"blocks.1.top2seq": {rule: "top_k", k: 2, group: "sequence", capacity: 1},
		"blocks.1.ecbatch": {rule: "expert_choice", group: "batch", capacity: 1.5},
	}
	for i := 1; i <= 4; i++ {
		layers[fmt.Sprintf("blocks.0.moe%d", i)] = tieLayer{rule: "expert_choice", group: "position", capacity: 1}
	}
	checkTies(t, m, layers, routesmodel.Experts, b, s)
	compareMoE(t, f, m, routesBlocks, b*s, loss, logits)
}
