// brainformer6.bf: two Brainformer6 blocks, expert choice at capacity 1 (the default example's model before this study).
import "std/brainformer.bf"

model Brainformer6LM {
    dim d = 128

    input(batch: 16, seq: 64)
    embed(vocab: 256, dim: d, pos: learned)
    repeat 2 Brainformer6(d: d, heads: 4, experts: 8, act: sqrelu, ffn_act: sqrelu)
    norm rms
    head tied
    loss cross_entropy
}
