// The causal-leak rule: expert choice, and top_k with k ≥ 2, over a group
// that spans the time axis (batch or sequence) in a model with causal
// attention anywhere.

block Causal(d: dim) {
    attn = attention(heads: 4, causal: true)
}

block Mix(d: dim) {
    attn = attention(heads: 4, causal: false)
    b = moe(experts: 4, hidden: d, route: expert_choice(capacity: 1, group: batch))    // ERROR "RouteLeak: expert choice over group: batch leaks future tokens in causal model Leaky: each expert's top-k competition spans later positions of the same sequence, so earlier tokens' outputs depend on future tokens; use group: position, or add leak: allow to accept the leak knowingly"
    s = moe(experts: 4, hidden: d, route: expert_choice(capacity: 1, group: sequence)) // ERROR "RouteLeak: expert choice over group: sequence leaks future tokens in causal model Leaky"
    p = moe(experts: 4, hidden: d, route: expert_choice(capacity: 1, group: position))
    a = moe(experts: 4, hidden: d, route: expert_choice(capacity: 1, group: sequence, leak: allow))
    cs = moe(experts: 4, hidden: d, route: expert_choice(capacity: 1, group: sequence, causal: true)) // decides from earlier members: causal
    cb = moe(experts: 4, hidden: d, route: expert_choice(capacity: 1, group: batch, causal: true, fill: top1))
    fs = moe(experts: 4, hidden: d, route: expert_choice(capacity: 1, group: sequence, fill: top1)) // ERROR "RouteLeak: expert choice over group: sequence leaks"
    cf = moe(experts: 4, hidden: d, route: expert_choice(capacity: 1, group: sequence, causal: false)) // ERROR "RouteLeak: expert choice over group: sequence leaks"
}

// Top-k places every first choice of a group before any second choice, so
// with k ≥ 2 a later token's first choice can take the place an earlier
// token's second choice would have had.
block TopK(d: dim) {
    attn = attention(heads: 4, causal: false)
    ts = moe(experts: 4, hidden: d, route: top_k(group: sequence))       // ERROR "RouteLeak: top_k with k = 2 over group: sequence leaks future tokens in causal model Leaky: every first choice of a group is placed before any second choice, so whether an earlier token's second choice still fits in an expert's capacity depends on the first choices of later positions of the same sequence; use group: position, or add leak: allow to accept the leak knowingly"
    tb = moe(experts: 4, hidden: d, route: top_k(k: 3, group: batch))    // ERROR "RouteLeak: top_k with k = 3 over group: batch leaks"
    td = moe(experts: 4, hidden: d, route: top_k(capacity: 0.5))         // ERROR "RouteLeak: top_k with k = 2 over the default group, batch, leaks future tokens in causal model Leaky: every first choice"
    tp = moe(experts: 4, hidden: d, route: top_k(group: position))       // one position of every sequence: causal
    t1 = moe(experts: 4, hidden: d, route: top_k(k: 1, group: sequence)) // choices placed in position order: causal
    t1b = moe(experts: 4, hidden: d, route: top_k(k: 1))
    ta = moe(experts: 4, hidden: d, route: top_k(group: sequence, leak: allow))
    tab = moe(experts: 4, hidden: d, route: top_k(leak: allow))
}

// k from a block parameter: the error names the instance that leaks.
block TopKParam(d: dim, k: int) {
    m = moe(experts: 4, hidden: d, route: top_k(k: k, group: sequence)) // ERROR "RouteLeak: top_k with k = 4 over group: sequence leaks"
}

// The causal attention comes after the moe layers, in another block: the
// whole model is causal.
model Leaky {
    input(batch: 8, seq: 32)
    embed(vocab: 256, dim: 64)
    repeat 2 Mix(d: 64)
    repeat 1 TopK(d: 64)
    repeat 1 TopKParam(d: 64, k: 1)
    repeat 1 TopKParam(d: 64, k: 4)
    repeat 1 Causal(d: 64)
    norm rms
    head tied
    loss cross_entropy
}

// Without causal attention the same blocks are fine: an encoder may look
// ahead.
model Encoder {
    input(batch: 8, seq: 32)
    embed(vocab: 256, dim: 64)
    repeat 2 Mix(d: 64)
    repeat 1 TopK(d: 64)
    repeat 1 TopKParam(d: 64, k: 4)
    norm rms
    head tied
    loss cross_entropy
}
