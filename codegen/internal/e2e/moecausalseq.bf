// MoECausalSeq routes causal expert choice over each whole sequence in a
// causal model: every expert decides on a position from the positions
// before it, so no output depends on a later token, and Infer on the first
// s tokens gives the full run's logits at position s-1.

block CausalSeq(d: dim) {
    norm rms pre
    attn = attention(heads: 2, head_dim: 4, causal: true)
    ec = moe(experts: 4, hidden: 16, act: gelu, route: expert_choice(capacity: 1, group: sequence, causal: true))
    ffn = ffn(hidden: 16, act: gelu)
    fill = moe(experts: 4, hidden: 8, act: sqrelu, route: expert_choice(capacity: 1, group: sequence, causal: true, fill: top1))
}

model MoECausalSeq {
    dim vocab = 13
    dim d = 8

    input(batch: 3, seq: 12)
    embed(vocab: vocab, dim: d, pos: learned)
    repeat 2 CausalSeq(d: d)
    norm rms
    head untied
    loss cross_entropy
}
