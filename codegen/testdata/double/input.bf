// A one-block model generated in float64, as gradient checks use it.
block Small(d: dim) {
    norm rms pre
    attn = attention(heads: 2, head_dim: 4, causal: true)
    ffn = ffn(hidden: 16, act: gelu_tanh)
}

model Double {
    dim vocab = 17
    dim d = 8

    input(batch: 2, seq: 8)
    embed(vocab: vocab, dim: d, pos: learned)
    repeat 1 Small(d: d)
    norm rms
    head untied
    loss cross_entropy
}
