// brainformer6_b32.bf: Brainformer6 with routing groups of 32: batch 32 of 32 bytes, the same tokens per step.
import "std/brainformer.bf"

model Brainformer6B32LM {
    dim d = 128

    input(batch: 32, seq: 32)
    embed(vocab: 256, dim: d, pos: learned)
    repeat 2 Brainformer6(d: d, heads: 4, experts: 8, act: sqrelu, ffn_act: sqrelu)
    norm rms
    head tied
    loss cross_entropy
}
