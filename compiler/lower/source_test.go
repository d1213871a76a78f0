package lower_test

import (
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
