// GradModel is a small model that uses every op bfc generates, for the
// end-to-end gradient check of generated code: two blocks, each a
// pre-RMSNorm causal attention and a post-LayerNorm SwiGLU feed-forward
// layer, learned positions, a final LayerNorm and an untied head.

block Mixed(d: dim, heads: int) {
    norm rms pre
    attn = attention(heads: heads, head_dim: 4, causal: true)
    ffn = ffn(hidden: 12, act: swiglu, norm: layer, placement: post)
}

model GradModel {
    dim vocab = 11
    dim d = 8
    int heads = 2

    input(batch: 3, seq: 5)
    embed(vocab: vocab, dim: d, pos: learned)
    repeat 2 Mixed(d: d, heads: heads)
    norm layer
    head untied
    loss cross_entropy
}
