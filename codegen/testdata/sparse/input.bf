// A causal model with sparse layers: an expert-choice moe routed over the
// batch at each position (causal), a dense ffn, and a gated top-2 moe with
// the load-balancing and z losses. The top-2 moe is routed over the default
// group, batch, to cover that group in the generated code; top-2 over it
// leaks the future (first choices are placed before second choices), so it
// says leak: allow.
block SparseBlock(d: dim) {
    norm rms pre
    attn1 = attention(heads: 2, head_dim: 4, causal: true)
    moe1 = moe(experts: 4, hidden: 16, act: gelu, route: expert_choice(capacity: 2, group: position, zloss: 1e-3))
    attn2 = attention(heads: 2, head_dim: 4, causal: true)
    ffn = ffn(hidden: 16, act: gelu)
    moe2 = moe(experts: 4, hidden: 8, act: swiglu, route: top_k(k: 2, capacity: 1.25, aux: 0.01, zloss: 1e-3, leak: allow))
}

model Sparse {
    dim vocab = 17
    dim d = 8

    input(batch: 4, seq: 8)
    embed(vocab: vocab, dim: d, pos: learned)
    repeat 1 SparseBlock(d: d)
    norm rms
    head untied
    loss cross_entropy
}
