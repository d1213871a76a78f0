// Unknown and missing attributes and parameters.

block B(d: dim, heads: int, mult: int = 4) {
    attn = attention(head: heads)              // ERROR "UnknownAttr: unknown attribute head for attention \(did you mean heads\?\); valid: heads, head_dim, causal, norm, placement, residual, eps"
    a2 = attention(causal: false)              // ERROR "MissingAttr: attention needs attribute heads; add heads: <int>"
    ff = ffn(act: gelu)                        // ERROR "ffn needs attribute hidden; add hidden: <dim>"
    f2 = ffn(hidden: mult * d, activation: relu) // ERROR "unknown attribute activation for ffn"
}

model M {
    input(batch: 8)                            // ERROR "input needs attribute seq; add seq: <int>"
    embed(vocab: 256, dim: 64, position: none) // ERROR "unknown attribute position for embed \(did you mean pos\?\)"
    repeat 1 B(d: 64, head: 4)                 // ERROR "unknown parameter head for block B \(did you mean heads\?\); valid: d, heads, mult"
    repeat 1 B(d: 64)                          // ERROR "MissingAttr: block B needs parameter heads; add heads: <int>"
    repeat 1 B()                               // ERROR "block B needs parameters d, heads; add d: <dim>, heads: <int>"
    norm rms
    head tied
    loss cross_entropy
}
