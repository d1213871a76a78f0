// MoELeak routes expert choice over each whole sequence in a causal model:
// every expert's top-k competition spans the later positions of a
// sequence, so earlier outputs depend on later tokens. The checker refuses
// it without leak: allow; the test shows the leak.

block Leaky(d: dim) {
    norm rms pre
    attn = attention(heads: 2, head_dim: 4, causal: true)
    ec = moe(experts: 4, hidden: 16, act: gelu, route: expert_choice(capacity: 1, group: sequence, leak: allow))
}

model MoELeak {
    dim vocab = 13
    dim d = 8

    input(batch: 2, seq: 8)
    embed(vocab: vocab, dim: d, pos: learned)
    repeat 1 Leaky(d: d)
    norm rms
    head untied
    loss cross_entropy
}
