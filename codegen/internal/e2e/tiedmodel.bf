// TiedModel checks the other variants end to end: no position embedding, a
// tied head, post-RMSNorm attention without a causal mask, a pre-LayerNorm
// squared-ReLU and a GEGLU feed-forward layer, and a final RMSNorm.

block A(d: dim) {
    norm rms post
    attn = attention(heads: 2, head_dim: 3, causal: false)
    ffn = ffn(hidden: 10, act: sqrelu, norm: layer, placement: pre)
}

block B(d: dim) {
    norm layer pre
    ffn = ffn(hidden: 6, act: geglu)
}

model TiedModel {
    dim vocab = 9
    dim d = 6

    input(batch: 2, seq: 4)
    embed(vocab: vocab, dim: d, pos: none)
    repeat 1 [A(d: d), B(d: d)]
    norm rms
    head tied
    loss cross_entropy
}
