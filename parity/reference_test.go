package parity

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bfcdev/bfc/compiler"
	"github.com/bfcdev/bfc/compiler/stats"
	"github.com/bfcdev/bfc/parity/referencemodel"
)

// referenceBlocks names the block of referencemodel, blocks.0.
var referenceBlocks = []string{"ReferenceBlock"}

// referenceConfig describes referencemodel (reference.bf at the reduced
// size of doc.go's go:generate line) to the twin, the reference block of
// shared/design/performance.md written out sub-layer by sub-layer:
// attention, expert choice over group batch at capacity 2 (GELU experts),
// a dense GELU FFN, the moe layer again.
func referenceConfig() string {
	d, h, e := referencemodel.D, referencemodel.Heads, referencemodel.Experts
	moe := func(name string) string {
		return fmt.Sprintf(`{"name":%q,"type":"moe","experts":%d,"hidden":%d,"act":"gelu","rule":"expert_choice","capacity":2,"group":"batch","aux":0,"zloss":0}`,
			name, e, 4*d)
	}
	return fmt.Sprintf(`{"kind":"model","vocab":%d,"d":%d,"max_seq":%d,"eps":1e-6,"head":"tied","blocks":[`+
		`{"block":"layers","sublayers":[`+
		`{"name":"attn","type":"attn","heads":%d,"head_dim":%d},%s,`+
		`{"name":"ffn","type":"ffn","hidden":%d,"act":"gelu"},%s]}]}`,
		referencemodel.Vocab, d, referencemodel.MaxSeq, h, d/h, moe("moe1"), 4*d, moe("moe2"))
}

// TestReferenceGoToTorch: the reference block, reduced (d 32, 2 heads of
// 16, 8 experts of hidden 128, batch 2 × seq 16), from generated Go's
// checkpoint: loss, logits, gradients and routing agree with the twin.
func TestReferenceGoToTorch(t *testing.T) {
	requireTorch(t)
	dir := t.TempDir()
	m := referencemodel.New(referencemodel.Options{Seed: 13})
	spreadParams(m.Params(), rand.New(rand.NewPCG(13, 13)))
	ckpt := filepath.Join(dir, "go.safetensors")
	if err := m.Save(ckpt); err != nil {
		t.Fatal(err)
	}
	b, s := referencemodel.MaxBatch, referencemodel.MaxSeq
	tokens, targets, bpath := batch(t, dir, 13, b, s, referencemodel.Vocab)
	f := runTwin(t, dir, referenceConfig(), "--params", ckpt, "--batch", bpath)
	loss, logits := goPass(t, m, tokens, targets, b, s)
	compareMoE(t, f, m, referenceBlocks, b*s, loss, logits)
}

// TestReferenceTorchToGo: the same from the twin's checkpoint.
func TestReferenceTorchToGo(t *testing.T) {
	requireTorch(t)
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "torch.safetensors")
	b, s := referencemodel.MaxBatch, referencemodel.MaxSeq
	tokens, targets, bpath := batch(t, dir, 14, b, s, referencemodel.Vocab)
	f := runTwin(t, dir, referenceConfig(), "--init", "14", "--write-params", ckpt, "--batch", bpath)
	m, err := referencemodel.Load(ckpt)
	if err != nil {
		t.Fatalf("generated Go cannot load the twin's checkpoint: %v", err)
	}
	loss, logits := goPass(t, m, tokens, targets, b, s)
	compareMoE(t, f, m, referenceBlocks, b*s, loss, logits)
}

// TestReferenceFLOPs: reference.bf at full size passes bfc check (with its
// moe layers' leak: allow), and bfc stats counts the design's forward
// matmul FLOPs for the block at 2048 tokens: 12.37 GFLOP (to the design's
// rounding), attention scores over all 256 positions included as the
// design counts them.
func TestReferenceFLOPs(t *testing.T) {
	res, diags := compiler.Check(compiler.Options{}, "reference.bf")
	if len(diags) > 0 {
		t.Fatalf("bfc check reference.bf: %v", diags)
	}
	if len(res.Models) != 1 {
		t.Fatalf("reference.bf declares %d models, want 1", len(res.Models))
	}
	s := stats.Compute(res.Models[0])
	if s.D != 256 || s.MaxBatch != 8 || s.MaxSeq != 256 {
		t.Fatalf("Reference is d %d, batch %d × seq %d; the design's block is d 256, batch 8 × seq 256", s.D, s.MaxBatch, s.MaxSeq)
	}
	var perToken int64
	for _, r := range s.Rows {
		if strings.HasPrefix(r.Name, "blocks.") {
			perToken += r.FLOPs + r.ScoreFLOPsPerPos*int64(s.MaxSeq)
		}
	}
	tokens := int64(s.MaxBatch * s.MaxSeq)
	total := perToken * tokens
	const want = 12_364_808_192 // 2048 · (524,288 + 2·2,101,248 + 1,048,576 + 1,024·256)
	if total != want || math.Abs(float64(total)/1e9-12.37) > 0.01 {
		t.Errorf("the block's forward matmul FLOPs at %d tokens: %d, want %d (12.37 GFLOP)", tokens, total, want)
	}
	t.Logf("reference block: %.4f GFLOP forward matmuls at %d tokens (%d per token)", float64(total)/1e9, tokens, perToken)
}
