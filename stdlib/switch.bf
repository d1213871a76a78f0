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
//
// The experts are routed over the default group, batch: all tokens of a
// step, in token order (sequence by sequence, each in position order).
// With one choice per token that is causal: choices are placed in group
// order, so whether a token still fits in its expert's capacity depends
// only on the tokens before it in that order, never on a later position
// of its own sequence, and bfc's RouteLeak check allows it. (Top-2 over
// the same group is not causal: every first choice is placed before any
// second choice; see glam.bf.) The tokens before it include every position
// of the earlier sequences of the batch, so a sequence's outputs depend on
// its batch, and decoding one position at a time does not reproduce the
// full forward pass exactly; top_k(k: 1, group: position) does, at the
// cost of smaller groups.

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
