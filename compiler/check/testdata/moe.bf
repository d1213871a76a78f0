// Sparse layers are not supported yet.

block Sparse(d: dim) {
    attn = attention(heads: 4)
    experts = moe(experts: 8, hidden: 4 * d, route: expert_choice(capacity: 1)) // ERROR "UnsupportedLayer: moe layers arrive with sparse routing support"
    ff = ffn(hidden: 4 * d)
}

model M {
    input(batch: 8, seq: 64)
    embed(vocab: 256, dim: 64)
    repeat 2 Sparse(d: 64)
    norm rms
    head tied
    loss cross_entropy
}
