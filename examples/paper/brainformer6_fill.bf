// brainformer6_fill.bf: brainformer6.bf with fill: top1, so every token
// gets at least one expert in every moe layer.
import "blocks/blocks.bf"

model Brainformer6FillLM {
    dim d = 128

    input(batch: 16, seq: 64)
    embed(vocab: 256, dim: d, pos: learned)
    repeat 2 Brainformer6Fill(d: d, heads: 4, experts: 8)
    norm rms
    head tied
    loss cross_entropy
}
