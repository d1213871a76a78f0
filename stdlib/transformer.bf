// transformer.bf: dense Transformer blocks.
//
// Both blocks keep the residual stream's width: use them in a model with
// the embedding dim as d. Every sub-layer is a pre-RMSNorm residual branch.

// Transformer is the dense decoder block of GPT-style language models:
// causal multi-head self-attention followed by a feed-forward layer of
// width mult*d. heads must divide d.
block Transformer(d: dim, heads: int, mult: int = 4, act: act = gelu) {
    norm rms pre
    attn = attention(heads: heads, causal: true)
    ffn = ffn(hidden: mult * d, act: act)
}

// GatedTransformer is the dense block of GLaM-style models: the same
// attention, followed by a gated-linear-unit feed-forward layer (GEGLU by
// default; reglu and swiglu also fit). The gated layer's up projection has
// 2*hidden outputs (gate half first), so at the same mult it holds 1.5 times
// the parameters of Transformer's.
block GatedTransformer(d: dim, heads: int, mult: int = 4, act: act = geglu) {
    norm rms pre
    attn = attention(heads: heads, causal: true)
    ffn = ffn(hidden: mult * d, act: act)
}
