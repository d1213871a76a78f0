// Post-LayerNorm blocks with a GEGLU feed-forward layer, no position
// embedding and an untied head.
real ln_eps = 0.00001
bool causal_attention = true

block Post(d: dim, heads: int) {
    norm layer post
    attn = attention(heads: heads, head_dim: d / heads, causal: causal_attention, eps: ln_eps)
    ffn = ffn(hidden: 3 * d, act: geglu)
}

model Gated {
    dim vocab = 100
    dim d = 32
    int heads = 2

    input(batch: 4, seq: 16)
    embed(vocab: vocab, dim: d, pos: none)
    repeat 2 Post(d: d, heads: heads)
    norm layer
    head untied
    loss cross_entropy
}
