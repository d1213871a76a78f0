// CharLM here is the example's earlier default: two Brainformer blocks
// (attention, expert-choice MoE, FFN, MoE, FFN, MoE; see
// std/brainformer.bf) that read bytes and predict the next one. Experts
// route by position across the batch, so the model stays causal. It is the
// baseline of examples/search/space.bf; at equal time it loses to dense.bf
// and to charlm.bf (docs/paper.md). -arch brainformer trains it.
import "std/brainformer.bf"

model CharLM {
    dim vocab = 256
    dim d = 128
    int heads = 4
    int experts = 8
    int layers = 2

    input(batch: 16, seq: 64)
    embed(vocab: vocab, dim: d, pos: learned)
    repeat layers Brainformer6(d: d, heads: heads, experts: experts, act: sqrelu, ffn_act: sqrelu)
    norm rms
    head tied
    loss cross_entropy
}
