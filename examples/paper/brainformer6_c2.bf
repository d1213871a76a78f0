// brainformer6_c2.bf: Brainformer6 at capacity 2 with experts of width d: each token gets two experts on average at the same activated parameters.
import "std/brainformer.bf"

model Brainformer6C2LM {
    dim d = 128

    input(batch: 16, seq: 64)
    embed(vocab: 256, dim: d, pos: learned)
    repeat 2 Brainformer6(d: d, heads: 4, experts: 8, hidden: d, capacity: 2, act: sqrelu, ffn_act: sqrelu)
    norm rms
    head tied
    loss cross_entropy
}
