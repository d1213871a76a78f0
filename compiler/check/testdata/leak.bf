// The causal-leak rule: expert choice over a group that spans the time axis
// (batch or sequence) in a model with causal attention anywhere.

block Causal(d: dim) {
    attn = attention(heads: 4, causal: true)
}

block Mix(d: dim) {
    attn = attention(heads: 4, causal: false)
    b = moe(experts: 4, hidden: d, route: expert_choice(capacity: 1, group: batch))    // ERROR "RouteLeak: expert choice over group: batch leaks future tokens in causal model Leaky: each expert's top-k competition spans later positions of the same sequence, so earlier tokens' outputs depend on future tokens; use group: position, or add leak: allow to accept the leak knowingly"
    s = moe(experts: 4, hidden: d, route: expert_choice(capacity: 1, group: sequence)) // ERROR "RouteLeak: expert choice over group: sequence leaks future tokens in causal model Leaky"
    p = moe(experts: 4, hidden: d, route: expert_choice(capacity: 1, group: position))
    a = moe(experts: 4, hidden: d, route: expert_choice(capacity: 1, group: sequence, leak: allow))
    t = moe(experts: 4, hidden: d, route: top_k(group: sequence)) // token choice routes each token on its own
}

// The causal attention comes after the moe layers, in another block: the
// whole model is causal.
model Leaky {
    input(batch: 8, seq: 32)
    embed(vocab: 256, dim: 64)
    repeat 2 Mix(d: 64)
    repeat 1 Causal(d: 64)
    norm rms
    head tied
    loss cross_entropy
}

// Without causal attention the same block is fine: an encoder may look
// ahead.
model Encoder {
    input(batch: 8, seq: 32)
    embed(vocab: 256, dim: 64)
    repeat 2 Mix(d: 64)
    norm rms
    head tied
    loss cross_entropy
}
