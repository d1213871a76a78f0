// One mistake, one error: no follow-on errors from invalid values, and a
// block's errors once per definition however often it is instantiated.

dim d = 4 * widht              // ERROR "unknown name widht"
dim h = d / 3                  // d is invalid: no error
dim w = h * d + h              // no error

block B(d: dim, heads: int) {
    dim hd = d * nope                         // ERROR "unknown name nope"
    attn = attention(heads: heads, head_dim: hd) // hd is invalid: no error
    ff = ffn(hidden: 4 * d, act: gelu, colour: red) // ERROR "unknown attribute colour for ffn"
    f2 = ffn(hidden: hd)                      // no error
    f3 = ffn(hidden: 3 * d, out: d + 1)       // ERROR "residual around f3 adds width 257 to a stream of width 256"
}

model M {
    input(batch: 8, seq: 64)
    embed(vocab: 256, dim: 256)
    repeat 3 B(d: 256, heads: 4)
    repeat 2 [B(d: 256, heads: 8), B(d: 256, heads: 2)]
    repeat 1 B(d: w, heads: 4)                // w is invalid: no error
    norm rms
    head tied
    loss cross_entropy
}
