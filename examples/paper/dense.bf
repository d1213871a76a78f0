// dense.bf: the dense baseline: four Transformer layers.
import "blocks/blocks.bf"

model Dense {
    dim d = 128

    input(batch: 16, seq: 64)
    embed(vocab: 256, dim: d, pos: learned)
    repeat 4 Transformer(d: d, heads: 4)
    norm rms
    head tied
    loss cross_entropy
}
