// brainformer8.bf: two Brainformer8 blocks, experts of width d so the activated parameters match.
import "std/brainformer.bf"

model Brainformer8LM {
    dim d = 128

    input(batch: 16, seq: 64)
    embed(vocab: 256, dim: d, pos: learned)
    repeat 2 Brainformer8(d: d, heads: 4, experts: 8, hidden: d, act: sqrelu, ffn_act: sqrelu)
    norm rms
    head tied
    loss cross_entropy
}
