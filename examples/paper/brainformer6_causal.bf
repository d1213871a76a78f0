// brainformer6_causal.bf: brainformer6.bf with causal expert choice over each
// sequence, and fill: top1 (blocks/controls.bf, Brainformer6Causal).
import "blocks/controls.bf"

model Brainformer6CausalLM {
    dim d = 128

    input(batch: 16, seq: 64)
    embed(vocab: 256, dim: d, pos: learned)
    repeat 2 Brainformer6Causal(d: d, heads: 4, experts: 8)
    norm rms
    head tied
    loss cross_entropy
}
