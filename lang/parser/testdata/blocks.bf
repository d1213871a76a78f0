block Empty() {}

block Params(d: dim, n: int, r: real, b: bool, a: act) {
    mlp = ffn(hidden: d)
}

block Defaults(d: dim = 512, heads: int = 8, drop: real = 0.1, causal: bool = true, act: act = swiglu,) {
    norm layer post
    int h = heads * 2
    attn = attention(heads: heads, head_dim: d / heads, causal: causal,)
    up = ffn(hidden: 4 * d, act: act, out: d)
}

block Brainformer(d: dim, heads: int, experts: int) {
    norm rms pre
    attn = attention(heads: heads, head_dim: 64, causal: true)
    moe1 = moe(experts: experts, hidden: 2 * d, act: gelu, route: expert_choice(capacity: 1, group: position))
    ffn1 = ffn(hidden: 2 * d, act: geglu)
    moe2 = moe(experts: experts, hidden: 2 * d, act: gelu, route: top_k(k: 2, capacity: 1.25, drop: overflow, aux: 0.01, z: 1e-3))
}

block Wrappers(d: dim) {
    norm none
    a = ffn(hidden: d, norm: rms, placement: post, residual: false, eps: 1e-5)
    b = ffn(hidden: d, norm: layer, placement: pre, residual: true)
    c = ffn()
}

block MultiLine(
    d: dim,
    heads: int,
) {
    attn = attention(
        heads: heads,
        head_dim: (d) / heads,
    )
}
