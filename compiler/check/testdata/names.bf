// Unknown names, with suggestions.

dim width = 256
int heads = 4
dim hidden = 4 * widht // ERROR "UnknownName: unknown name widht \(did you mean width\?\)"
dim bad = hidden + 1   // no error: hidden is invalid and that was reported

block B(d: dim, nheads: int) {
    dim hd = d / nhead                   // ERROR "unknown name nhead \(did you mean nheads\?\)"
    attn = attention(heads: nheads)
    ff = fnn(hidden: 4 * d)              // ERROR "UnknownName: unknown layer fnn \(did you mean ffn\?\)"
    x = ffn(hidden: zzz)                 // ERROR "unknown name zzz$"
    y = ffn(hidden: B)                   // ERROR "B is a block, not a value"
    z = C(d: d)                          // ERROR "UnsupportedLayer: C is a block and blocks do not nest"
}

block C(d: dim) {
    ff = ffn(hidden: d)
}

model M {
    input(batch: 8, seq: 64)
    embed(vocab: 256, dim: width)
    repeat 2 Bb(d: width, nheads: heads) // ERROR "unknown block Bb \(did you mean B\?\)"
    repeat 1 ffn(d: width)               // ERROR "ffn is a layer primitive, not a block"
    repeat 1 C(d: widht)                 // ERROR "unknown name widht \(did you mean width\?\)"
    C(d: width)                          // ERROR "unknown model statement C; to stack block C write repeat 1 C"
    norm rms
    head tied
    loss cross_entropy
}
