// glam.bf: the GLaM block (Du et al., "GLaM: Efficient Scaling of Language
// Models with Mixture-of-Experts", ICML 2022).
//
// GLaM is a decoder-only Transformer in which every other layer's
// feed-forward network is a mixture of experts. One GLaM block is such a
// pair of Transformer layers, the first with the experts (as in GLaM's
// reference code), so a GLaM model of L layers is repeat L/2 GLaM(...):
//
//     attn1  causal self-attention
//     moe    experts plain GELU FFNs (two matrices), top-2 token choice
//     attn2  causal self-attention
//     ffn    dense gated-GELU (GEGLU) FFN (three matrices)
//
// Every sub-layer is a pre-RMSNorm residual branch. The router picks each
// token's top 2 experts, renormalises their gates, drops assignments beyond
// an expert's capacity C = ceil(2·n·capacity/E) (first choices before
// second choices) and adds GShard's load-balancing loss with weight aux
// (GLaM: 0.01). GLaM's per-layer relative position bias is not modelled:
// use embed(pos: learned) or pos: none.
//
// The experts are routed in groups of one position of every sequence
// (group: position), so n = batch. Over a group that spans positions
// (batch or sequence) top-2 would leak the future: every first choice is
// placed before any second choice, so whether an earlier token's second
// choice fits would depend on later tokens' first choices, and bfc reports
// RouteLeak. Over group position a position's routing sees only the
// tokens at that position, and decoding a batch in lockstep reproduces the
// full forward pass. Every batch works, down to 1: C is at least 1 and a
// token picks 2 different experts. Small groups overflow more, though: at
// batch 8, GLaM 0.1B/32E has C = ceil(2·8·1.25/32) = 1, and a router
// spreading tokens uniformly at random would drop about 19% of choices
// (10% at batch 32, C = 3; under 1% at batch 32 with capacity 2.5), where
// a group of all 8·1024 tokens of a step (C = 640) drops almost none. With
// small batches raise capacity and watch the dropped share RoutingStats
// reports.
//
// GLaM 0.1B/32E is 12 layers of d 768, 12 heads of 64, hidden 3072, 32
// experts: repeat 6 GLaM(d: 768, heads: 12, experts: 32).

// GLaM is one MoE Transformer layer followed by one dense Transformer layer.
// hidden is the width of the dense FFN and of every expert.
block GLaM(
    d: dim,
    heads: int,
    experts: int,
    hidden: dim = 4 * d,
    head_dim: dim = d / heads,
    capacity: real = 1.25,
    aux: real = 0.01,
    zloss: real = 0,
) {
    norm rms pre
    attn1 = attention(heads: heads, head_dim: head_dim, causal: true)
    // group: position keeps top-2 causal (see above).
    moe = moe(experts: experts, hidden: hidden, act: gelu, route: top_k(k: 2, capacity: capacity, group: position, aux: aux, zloss: zloss))
    attn2 = attention(heads: heads, head_dim: head_dim, causal: true)
    ffn = ffn(hidden: hidden, act: geglu)
}
