// The moe primitive: its own attributes and the common ones.

int batch = 8 // a constant named batch does not hide the routing group batch

block Sparse(d: dim, e: int, cap: real = 2) {
    attn = attention(heads: 4, causal: false)
    m1 = moe(experts: e, hidden: 2 * d, route: top_k())
    m2 = moe(experts: e, hidden: 2 * d, act: swiglu, route: top_k(k: 1, capacity: cap, group: batch, aux: 0.001, zloss: 1e-3, drop: overflow))
    m3 = moe(experts: e, hidden: 2 * d, route: expert_choice(capacity: cap, group: position), norm: layer, placement: post, eps: 1e-3)
    m4 = moe(experts: e, hidden: d, route: expert_choice(capacity: 1, group: batch, zloss: 0.5), residual: false)
}

block Bad(d: dim) {
    a = moe(hidden: d, route: top_k())                              // ERROR "MissingAttr: moe needs attribute experts; add experts: <int>"
    b = moe(experts: 4, hidden: d)                                  // ERROR "MissingAttr: moe needs attribute route; add route: expert_choice\(capacity: 1, group: position\)"
    c = moe(experts: 0, hidden: d, route: top_k(k: 1))              // ERROR "InvalidSize: experts must be between 1 and 16777216, got 0"
    e = moe(experts: 4, hidden: 2.5, route: top_k())                // ERROR "InvalidAttrType: 2.5 is a real; hidden needs a dim"
    f = moe(experts: 4, hidden: d, act: rms, route: top_k())        // ERROR "InvalidValue: rms is a norm kind; act needs an activation"
    g = moe(experts: 4, hidden: d, route: top_k(), out: 2 * d)      // ERROR "UnknownAttr: unknown attribute out for moe; valid: experts, hidden, act, route, norm, placement, residual, eps"
    h = moe(experts: 4, hidden: d, route: d)                        // ERROR "InvalidAttrType: d is a dim; route needs a routing rule"
    i = moe(experts: 4, hidden: d, route: 2)                        // ERROR "InvalidAttrType: 2 is an int; route needs a routing rule"
    j = moe(experts: 4.5, hidden: d, route: top_k())                // ERROR "InvalidAttrType: 4.5 is a real; experts needs an int"
}

model M {
    input(batch: 8, seq: 32)
    embed(vocab: 256, dim: 64)
    repeat 1 Sparse(d: 64, e: 4)
    repeat 1 Bad(d: 64)
    norm rms
    head tied
    loss cross_entropy
}
