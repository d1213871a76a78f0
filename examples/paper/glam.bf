// glam.bf: GLaM: two GLaM blocks, 8 experts top-2.
import "blocks/blocks.bf"

model GLaMLM {
    dim d = 128

    input(batch: 16, seq: 64)
    embed(vocab: 256, dim: d, pos: learned)
    repeat 2 GLaM(d: d, heads: 4, experts: 8)
    norm rms
    head tied
    loss cross_entropy
}
