// Routing rules: their attributes, unknown rules and attributes, values
// that cannot work without looking at the model.

block R(d: dim, e: int) {
    a = moe(experts: e, hidden: d, route: expert_choice(capacity: 1, group: position, aux: 0.01)) // ERROR "InvalidRoute: expert choice balances load by construction and takes no auxiliary loss; remove aux"
    b = moe(experts: e, hidden: d, route: expert_choice(k: 2, capacity: 1, group: position))      // ERROR "InvalidRoute: expert choice derives k, the tokens each expert takes, from the capacity"
    c = moe(experts: e, hidden: d, route: expert_choice(capacity: 0, group: position))            // ERROR "InvalidRoute: capacity must be positive, got 0"
    f = moe(experts: e, hidden: d, route: top_k(capacity: -0.5))                                   // ERROR "InvalidRoute: capacity must be positive, got -0.5"
    g = moe(experts: e, hidden: d, route: top_k(k: 0))                                             // ERROR "InvalidRoute: top_k needs k of at least 1 expert per token, got 0"
    h = moe(experts: 2, hidden: d, route: top_k(k: 3))                                             // ERROR "InvalidRoute: top_k picks k = 3 experts per token but the layer has 2; use k of at most 2"
    i = moe(experts: 1, hidden: d, route: top_k())                                                 // ERROR "InvalidRoute: top_k picks k = 2 \(the default\) experts per token but the layer has 1"
    j = moe(experts: e, hidden: d, route: top_k(aux: -1))                                          // ERROR "InvalidRoute: aux is a loss weight and must not be negative, got -1"
    k = moe(experts: e, hidden: d, route: expert_choice(capacity: 1, group: position, zloss: -1)) // ERROR "InvalidRoute: zloss is a loss weight and must not be negative"
    l = moe(experts: e, hidden: d, route: expert_choice(capcity: 1, group: position))             // ERROR "UnknownAttr: unknown attribute capcity for expert_choice \(did you mean capacity\?\); valid: capacity, group, zloss, fill, causal, leak"
    m = moe(experts: e, hidden: d, route: top_k(z_loss: 0.1))                                      // ERROR "UnknownAttr: unknown attribute z_loss for top_k \(did you mean zloss\?\); valid: k, capacity, group, aux, zloss, drop, leak"
    n = moe(experts: e, hidden: d, route: top_k(leak: yes))                                        // ERROR "InvalidValue: unknown leak policy yes; want allow"
    o = moe(experts: e, hidden: d, route: expert_choise(capacity: 1, group: position))            // ERROR "UnknownName: unknown routing rule expert_choise \(did you mean expert_choice\?\)"
    p = moe(experts: e, hidden: d, route: hash(buckets: 4))                                        // ERROR "UnknownName: unknown routing rule hash; want expert_choice\(...\) or top_k\(...\)"
    q = moe(experts: e, hidden: d, route: top_k)                                                   // ERROR "InvalidRoute: write top_k\(\) for top-k routing with its defaults"
    r = moe(experts: e, hidden: d, route: expert_choice)                                           // ERROR "InvalidRoute: expert_choice needs its capacity and group"
    s = moe(experts: e, hidden: d, route: expert_choice(capacity: 1))                              // ERROR "MissingAttr: expert_choice needs attribute group; add group: position"
    t = moe(experts: e, hidden: d, route: expert_choice(group: time, capacity: 1))                // ERROR "InvalidValue: unknown routing group time; want batch, sequence or position"
    u = moe(experts: e, hidden: d, route: top_k(drop: tokens))                                     // ERROR "InvalidValue: unknown drop policy tokens; want overflow"
    v = moe(experts: e, hidden: d, route: expert_choice(capacity: 1, group: position, leak: yes)) // ERROR "InvalidValue: unknown leak policy yes; want allow"
    w = moe(experts: e, hidden: d, route: top_k() + 1)                                             // ERROR "InvalidAttrType: cannot use \+ here: route needs a routing rule, not a number"
    x = moe(experts: e, hidden: d, route: top_k(k: 1.5, capacity: true))                           // ERROR "1.5 is a real; k needs an int"
    y = moe(experts: e, hidden: d, route: ffn(hidden: d))                                          // ERROR "InvalidAttrType: ffn is a layer, not a routing rule"
    z = ffn(hidden: d, act: top_k(k: 1))                                                           // ERROR "InvalidAttrType: cannot use routing rule top_k here: act needs an activation"
    aa = moe(experts: e, hidden: d, route: top_k(fill: top1))                                      // ERROR "InvalidRoute: fill is an expert_choice attribute: under top_k every token already picks its k experts"
    ab = moe(experts: e, hidden: d, route: expert_choice(capacity: 1, group: position, fill: all)) // ERROR "InvalidValue: unknown fill policy all; want none or top1"
    ac = moe(experts: e, hidden: d, route: expert_choice(capacity: 1, group: position, fill: top1))
    ad = moe(experts: e, hidden: d, route: top_k(k: 1, causal: true))                              // ERROR "InvalidRoute: causal is an expert_choice attribute: top_k with k = 1 is causal over every group"
    ae = moe(experts: e, hidden: d, route: expert_choice(capacity: 1, group: sequence, causal: 1)) // ERROR "causal needs a bool"
}

// Argument-dependent values are reported per instance.
block P(d: dim, e: int, k: int, cap: real) {
    m = moe(
        experts: e,
        hidden: d,
        route: top_k(
            k: k,          // ERROR "InvalidRoute: top_k picks k = 5 experts per token but the layer has 4"
            capacity: cap, // ERROR "InvalidRoute: capacity must be positive, got 0"
        ),
    )
}

model M {
    input(batch: 8, seq: 32)
    embed(vocab: 256, dim: 64)
    repeat 1 R(d: 64, e: 4)
    repeat 1 P(d: 64, e: 4, k: 5, cap: 1)
    repeat 1 P(d: 64, e: 4, k: 1, cap: 0)
    norm rms
    head tied
    loss cross_entropy
}
