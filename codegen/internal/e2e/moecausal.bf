// MoECausal is a causal sparse model for the decoding-policy checks: expert
// choice (plain, with fill: top1, and causal) and top-2 all routed over group position (the tokens of every
// sequence at one position), so a position's output depends on no later
// token and decoding all sequences of a batch in lockstep, one position at
// a time, gives the full-sequence logits.

block Causal(d: dim) {
    norm rms pre
    attn = attention(heads: 2, head_dim: 4, causal: true)
    ec = moe(experts: 4, hidden: 16, act: gelu, route: expert_choice(capacity: 2, group: position))
    ffn = ffn(hidden: 16, act: gelu)
    fill = moe(experts: 4, hidden: 8, act: sqrelu, route: expert_choice(capacity: 1, group: position, fill: top1))
    cpos = moe(experts: 4, hidden: 8, act: gelu, route: expert_choice(capacity: 2, group: position, causal: true))
    top2 = moe(experts: 4, hidden: 8, act: swiglu, route: top_k(k: 2, capacity: 1, group: position, aux: 0.01))
}

model MoECausal {
    dim vocab = 13
    dim d = 8

    input(batch: 8, seq: 8)
    embed(vocab: vocab, dim: d, pos: learned)
    repeat 2 Causal(d: d)
    norm rms
    head untied
    loss cross_entropy
}
