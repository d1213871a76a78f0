// MoEModel is a small sparse model for the end-to-end checks of generated
// moe layers: two blocks, each a causal attention, an expert-choice moe
// routed over the batch at each position (group position keeps it causal),
// a post-LayerNorm SwiGLU feed-forward layer and a gated top-2 moe with the
// load-balancing and z losses. The top-2 moe is routed over the default
// group, batch (all 15 tokens of a full step, C = 13 places per expert, so
// overflow drops can occur): that group and its drops are what these checks
// cover. Top-2 over it leaks the future (every first choice is placed before
// any second choice), which the tests here do not depend on, so it says
// leak: allow; moecausal.bf checks the causal form, group position.

block Routed(d: dim) {
    norm rms pre
    attn = attention(heads: 2, head_dim: 4, causal: true)
    ec = moe(experts: 4, hidden: 6, act: gelu, route: expert_choice(capacity: 2, group: position, zloss: 1e-3))
    ffn = ffn(hidden: 12, act: swiglu, norm: layer, placement: post)
    top2 = moe(experts: 3, hidden: 5, act: geglu, route: top_k(k: 2, capacity: 1.25, aux: 0.01, zloss: 1e-3, leak: allow))
}

model MoEModel {
    dim vocab = 11
    dim d = 8

    input(batch: 3, seq: 5)
    embed(vocab: vocab, dim: d, pos: learned)
    repeat 2 Routed(d: d)
    norm layer
    head untied
    loss cross_entropy
}
