// switch.bf: the Switch Transformer block (Fedus, Zoph and Shazeer, "Switch
// Transformers", JMLR 2022).
//
// A Switch layer is a Transformer layer whose feed-forward network is a
// mixture of experts with top-1 routing: each token goes to its single
// best expert, within a capacity of C = ceil(n·capacity/E) tokens per
// expert (Switch: capacity 1 to 1.25), overflow dropped and carried by the
// residual alone, with the load-balancing loss at weight aux (Switch:
// 0.01). Switch models usually alternate it with a dense layer: repeat N
// [Switch(...), Transformer(...)] with std/transformer.bf.
//
// Every sub-layer is a pre-RMSNorm residual branch.

// Switch is causal self-attention followed by a top-1 mixture of experts.
// Each expert is an FFN of width hidden with activation act (T5's ReLU by
// default).
block Switch(
    d: dim,
    heads: int,
    experts: int,
    hidden: dim = 4 * d,
    head_dim: dim = d / heads,
    act: act = relu,
    capacity: real = 1.25,
    aux: real = 0.01,
    zloss: real = 0,
) {
    norm rms pre
    attn = attention(heads: heads, head_dim: head_dim, causal: true)
    moe = moe(experts: experts, hidden: hidden, act: act, route: top_k(k: 1, capacity: capacity, aux: aux, zloss: zloss))
}
