// Build-time overrides.
// -set d=wide
// -set heads=8
// -set M.layers=3
// -set M.lr=fast
// -set dd=4
// -set N.x=1
// -set M.nope=1

dim d = 256             // ERROR "InvalidOverride: override d=wide: d is a dim; give a positive integer up to 16777216, such as 512"
int heads = 4

block B(d: dim, heads: int) {
    attn = attention(heads: heads)
}

model M {
    int layers = 2
    real lr = 0.1       // ERROR "InvalidOverride: override M.lr=fast: lr is a real; give a finite number"
    input(batch: 8, seq: 64)
    embed(vocab: 256, dim: d)
    repeat layers B(d: d, heads: heads)
    norm rms
    head tied
    loss cross_entropy
}
// NOPOS "InvalidOverride: override dd=4: no file-level or model constant named dd \(did you mean d\?\)"
// NOPOS "override N.x=1: no model named N"
// NOPOS "override M.nope=1: model M has no constant nope"
