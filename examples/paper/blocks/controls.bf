// controls.bf: blocks added to the paper suite after its first run (kept
// apart so the first run's models stay byte-identical).

// DenseWide: attention, then a dense feed-forward of any width.
block DenseWide(d: dim, heads: int, hidden: dim) {
    norm rms pre
    attn = attention(heads: heads, causal: true)
    ffn = ffn(hidden: hidden, act: sqrelu)
}

// Brainformer6Causal: Brainformer6 with causal expert choice over each
// sequence (groups of 64 positions instead of the 16 tokens at a
// position), and fill: top1 for the first positions, which no expert's
// quota reaches.
block Brainformer6Causal(d: dim, heads: int, experts: int) {
    norm rms pre
    attn = attention(heads: heads, causal: true)
    moe1 = moe(experts: experts, hidden: 2 * d, act: sqrelu, route: expert_choice(capacity: 1, group: sequence, causal: true, fill: top1))
    ffn1 = ffn(hidden: 2 * d, act: sqrelu)
    moe2 = moe(experts: experts, hidden: 2 * d, act: sqrelu, route: expert_choice(capacity: 1, group: sequence, causal: true, fill: top1))
    ffn2 = ffn(hidden: 2 * d, act: sqrelu)
    moe3 = moe(experts: experts, hidden: 2 * d, act: sqrelu, route: expert_choice(capacity: 1, group: sequence, causal: true, fill: top1))
}
