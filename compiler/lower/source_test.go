package lower_test

import (
	"strings"
	"testing"

	"github.com/bfcdev/bfc/compiler/autodiff"
	"github.com/bfcdev/bfc/compiler/check"
	"github.com/bfcdev/bfc/compiler/ir"
)

// smallSource uses the standard blocks at a size small enough for a
// whole-model gradient check.
const smallSource = `import "std/transformer.bf"

model Small {
    dim vocab = 13
    dim d = 8
    int layers = 2

    input(batch: 2, seq: 6)
    embed(vocab: vocab, dim: d, pos: learned)
    repeat layers Transformer(d: d, heads: 2, mult: 2)
    repeat 1 GatedTransformer(d: d, heads: 4, mult: 1, act: swiglu)
    norm layer
    head untied
    loss cross_entropy
}
`

// TestLowerSource checks, lowers and differentiates a .bf model built from
// the standard library, then gradient-checks it.
func TestLowerSource(t *testing.T) {
	res, diags := check.CheckSource(check.Config{}, "small.bf", []byte(smallSource))
	if len(diags) > 0 {
		t.Fatalf("check: %v", diags.Err())
	}
	if len(res.Models) != 1 {
		t.Fatalf("%d models", len(res.Models))
	}
	p := lowered(t, res.Models[0])
	want := []string{"embed.tokens", "embed.pos"}
	for _, b := range []string{"blocks.0", "blocks.1", "blocks.2"} {
		want = append(want, b+".attn.norm.scale", b+".attn.qkv", b+".attn.out", b+".ffn.norm.scale", b+".ffn.up", b+".ffn.down")
	}
	want = append(want, "norm.scale", "norm.bias", "head.weight")
	var got []string
	for _, v := range p.Params {
		got = append(got, v.Name)
	}
	if len(got) != len(want) {
		t.Fatalf("params %q, want %q", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("param %d is %s, want %s", i, got[i], want[i])
		}
	}
	for _, in := range p.Forward {
		if !in.Pos.IsValid() || in.Pos.File != "small.bf" && in.Pos.File != "std/transformer.bf" {
			t.Errorf("%v (%s): position %v", in.Op, in.Layer, in.Pos)
		}
	}
	if err := autodiff.Differentiate(p); err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(p); err != nil {
		t.Fatal(err)
	}
	modelGradCheck(t, p, 2, 6, 9)
}

// sparseSource uses the standard library's sparse blocks.
const sparseSource = `import "std/brainformer.bf"
import "std/glam.bf"
import "std/switch.bf"

model SparseStd {
    dim vocab = 13
    dim d = 8

    input(batch: 3, seq: 5)
    embed(vocab: vocab, dim: d, pos: learned)
    repeat 1 Brainformer6(d: d, heads: 2, experts: 3, capacity: 1, zloss: 1e-3)
    repeat 1 GLaM(d: d, heads: 2, experts: 3, hidden: 6, zloss: 1e-3)
    repeat 1 Switch(d: d, heads: 2, experts: 2, hidden: 6, act: gelu)
    norm rms
    head tied
    loss cross_entropy
}
`

// TestLowerSparseSource checks, lowers, differentiates and gradient-checks
// a model stacking the standard Brainformer6, GLaM and Switch blocks.
func TestLowerSparseSource(t *testing.T) {
	res, diags := check.CheckSource(check.Config{}, "sparse.bf", []byte(sparseSource))
	if len(diags) > 0 {
		t.Fatalf("check: %v", diags.Err())
	}
	p := lowered(t, res.Models[0])
	var names []string
	for _, in := range p.MoE() {
		names = append(names, in.Attrs.MoE.Name+" "+in.Attrs.MoE.String())
	}
	t.Logf("moe layers:\n%s", strings.Join(names, "\n"))
	if len(names) != 3+1+1 {
		t.Errorf("%d moe layers, want 5", len(names))
	}
	if err := autodiff.Differentiate(p); err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(p); err != nil {
		t.Fatal(err)
	}
	modelGradCheck(t, p, 3, 5, 5)
}
