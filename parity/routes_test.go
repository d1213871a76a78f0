package parity

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/bfcdev/bfc/parity/routesmodel"
)

// routesBlocks names the blocks of routesmodel, blocks.0 to blocks.2.
var routesBlocks = []string{"Brainformer8", "Groups", "GatedTransformer"}

// routesConfig describes routesmodel (routes.bf) to the twin: Brainformer8
// and GatedTransformer by name, and routes.bf's own block Groups written out
// sub-layer by sub-layer.
func routesConfig() string {
	d, h, e := routesmodel.D, routesmodel.Heads, routesmodel.Experts
	return fmt.Sprintf(`{"kind":"model","vocab":%d,"d":%d,"max_seq":%d,"eps":1e-6,"head":"tied","blocks":[`+
		`{"block":"Brainformer8","d":%d,"heads":%d,"experts":%d,"zloss":0.001},`+
		`{"block":"layers","sublayers":[`+
		`{"name":"ecseq","type":"moe","experts":%d,"hidden":%d,"act":"geglu","rule":"expert_choice","capacity":1,"group":"sequence","aux":0,"zloss":0.001},`+
		`{"name":"top2seq","type":"moe","experts":%d,"hidden":%d,"act":"swiglu","rule":"top_k","k":2,"capacity":1,"group":"sequence","aux":0.02,"zloss":0},`+
		`{"name":"ecbatch","type":"moe","experts":%d,"hidden":%d,"act":"sqrelu","rule":"expert_choice","capacity":1.5,"group":"batch","aux":0,"zloss":0}]},`+
		`{"block":"GatedTransformer","d":%d,"heads":%d}]}`,
		routesmodel.Vocab, d, routesmodel.MaxSeq, d, h, e, e, d, e, d, e, 2*d, d, h)
}

// TestRoutesGoToTorch: Brainformer8, gated experts, the routing groups the
// standard blocks leave out and a tied head, from generated Go's checkpoint.
func TestRoutesGoToTorch(t *testing.T) {
	requireTorch(t)
	dir := t.TempDir()
	m := routesmodel.New(routesmodel.Options{Seed: 4})
	spreadParams(m.Params(), rand.New(rand.NewPCG(7, 7)))
	ckpt := filepath.Join(dir, "go.safetensors")
	if err := m.Save(ckpt); err != nil {
		t.Fatal(err)
	}
	tokens, targets, bpath := batch(t, dir, 6, routesmodel.MaxBatch, routesmodel.MaxSeq, routesmodel.Vocab)
	f := runTwin(t, dir, routesConfig(), "--params", ckpt, "--batch", bpath)
	loss, logits := goPass(t, m, tokens, targets, routesmodel.MaxBatch, routesmodel.MaxSeq)
	compareMoE(t, f, m, routesBlocks, routesmodel.MaxBatch*routesmodel.MaxSeq, loss, logits)
}

// TestRoutesTorchToGo: the same from the twin's checkpoint.
func TestRoutesTorchToGo(t *testing.T) {
	requireTorch(t)
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "torch.safetensors")
	tokens, targets, bpath := batch(t, dir, 7, routesmodel.MaxBatch, routesmodel.MaxSeq, routesmodel.Vocab)
	f := runTwin(t, dir, routesConfig(), "--init", "10", "--write-params", ckpt, "--batch", bpath)
	m, err := routesmodel.Load(ckpt)
	if err != nil {
		t.Fatalf("generated Go cannot load the twin's checkpoint: %v", err)
	}
	loss, logits := goPass(t, m, tokens, targets, routesmodel.MaxBatch, routesmodel.MaxSeq)
	compareMoE(t, f, m, routesBlocks, routesmodel.MaxBatch*routesmodel.MaxSeq, loss, logits)
}
