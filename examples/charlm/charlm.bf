// CharLM is the example's byte-level language model: two Brainformer
// blocks (attention, expert-choice MoE, FFN, MoE, FFN, MoE; see
// std/brainformer.bf) that read bytes and predict the next one. Experts
// route by position across the batch, so the model stays causal; squared
// ReLU (Primer) and 64-byte windows train fastest on 2 cores. dense.bf is
// the dense baseline with about the same activated parameters per token.
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
