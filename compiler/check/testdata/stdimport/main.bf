// A clean model built from the standard library and a local file.
import "std/transformer.bf"
import "lib/blocks.bf"

dim d = 128

model M {
    int heads = 4
    input(batch: 4, seq: 32)
    embed(vocab: 256, dim: d)
    repeat 2 [Transformer(d: d, heads: heads), GatedTransformer(d: d, heads: heads, act: swiglu)]
    repeat 1 Wide(d: d)
    norm rms
    head tied
    loss cross_entropy
}
