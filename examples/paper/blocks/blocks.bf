// blocks.bf: the blocks of the paper suite (see ../README.md). Every block is
// pre-norm (RMSNorm) with residuals, uses squared ReLU in every
// feed-forward and expert, and routes causally: by position across the
// batch, or top-1 over the whole step.

// Transformer: attention, then a dense feed-forward of 4·d.
block Transformer(d: dim, heads: int) {
    norm rms pre
    attn = attention(heads: heads, causal: true)
    ffn = ffn(hidden: 4 * d, act: sqrelu)
}

// GLaM: two Transformer layers, the first with its feed-forward replaced
// by a top-2 MoE whose experts are half as wide, so a token activates as
// many weights as a dense layer.
block GLaM(d: dim, heads: int, experts: int) {
    norm rms pre
    attn1 = attention(heads: heads, causal: true)
    moe = moe(experts: experts, hidden: 2 * d, act: sqrelu, route: top_k(k: 2, capacity: 1.25, group: position, aux: 0.01))
    attn2 = attention(heads: heads, causal: true)
    ffn = ffn(hidden: 4 * d, act: sqrelu)
}

// GLaMEC: GLaM with expert choice at capacity 2 in place of top-2 (the
// comparison of the expert-choice paper).
block GLaMEC(d: dim, heads: int, experts: int) {
    norm rms pre
    attn1 = attention(heads: heads, causal: true)
    moe = moe(experts: experts, hidden: 2 * d, act: sqrelu, route: expert_choice(capacity: 2, group: position))
    attn2 = attention(heads: heads, causal: true)
    ffn = ffn(hidden: 4 * d, act: sqrelu)
}

// Switch: attention, then a top-1 MoE with experts as wide as the dense
// feed-forward. Top-1 is causal over the whole step, so it routes there.
block Switch(d: dim, heads: int, experts: int) {
    norm rms pre
    attn = attention(heads: heads, causal: true)
    moe = moe(experts: experts, hidden: 4 * d, act: sqrelu, route: top_k(k: 1, capacity: 1.25, group: batch, aux: 0.01))
}

// Searched: the best block of the random search in docs/searches
// (2026-12-07-random.best.bf) with its widths written in terms of d: at d 96
// it is that block exactly.
block Searched(d: dim) {
    norm rms pre
    attn = attention(heads: 8, causal: true)
    moe1 = moe(experts: 4, hidden: d, act: sqrelu, route: top_k(k: 2, capacity: 2, group: position, aux: 0.01))
    moe2 = moe(experts: 8, hidden: 2 * d, act: sqrelu, route: top_k(k: 2, capacity: 2, group: position, aux: 0.01))
}

// Brainformer6Fill: std Brainformer6 (attention, MoE, FFN, MoE, FFN, MoE;
// expert choice at capacity 1 over position) with fill: top1, so a token
// no expert chose still gets its top-1 expert.
block Brainformer6Fill(d: dim, heads: int, experts: int) {
    norm rms pre
    attn = attention(heads: heads, causal: true)
    moe1 = moe(experts: experts, hidden: 2 * d, act: sqrelu, route: expert_choice(capacity: 1, group: position, fill: top1))
    ffn1 = ffn(hidden: 2 * d, act: sqrelu)
    moe2 = moe(experts: experts, hidden: 2 * d, act: sqrelu, route: expert_choice(capacity: 1, group: position, fill: top1))
    ffn2 = ffn(hidden: 2 * d, act: sqrelu)
    moe3 = moe(experts: experts, hidden: 2 * d, act: sqrelu, route: expert_choice(capacity: 1, group: position, fill: top1))
}
