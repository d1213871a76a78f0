// glam_ec.bf: GLaM with expert choice (capacity 2) in place of top-2.
import "blocks/blocks.bf"

model GLaMECLM {
    dim d = 128

    input(batch: 16, seq: 64)
    embed(vocab: 256, dim: d, pos: learned)
    repeat 2 GLaMEC(d: d, heads: 4, experts: 8)
    norm rms
    head tied
    loss cross_entropy
}
