// Widths that do not fit: residuals and the tied head.

block Widen(d: dim) {
    up = ffn(hidden: 4 * d, out: 2 * d, residual: false) // widens the stream: fine
    ff = ffn(hidden: 4 * d, out: d)    // ERROR "WidthMismatch: residual around ff adds width 256 to a stream of width 512; set out: 512 or residual: false"
    attn = attention(heads: 4)         // attention keeps the width
    fixed = ffn(hidden: 64, out: 100) // ERROR "residual around fixed adds width 100 to a stream of width 512"
}

block Keep(d: dim) {
    ff = ffn(hidden: 4 * d, out: 128) // ERROR "residual around ff adds width 128 to a stream of width 256; set out: 256 or residual: false"
}

model M {
    input(batch: 8, seq: 64)
    embed(vocab: 256, dim: 256)
    repeat 1 Keep(d: 256)
    repeat 1 Widen(d: 256)
    norm rms
    head tied                          // ERROR "WidthMismatch: tied head needs the final width to equal the embedding dim 256, but the blocks end at width 512"
    loss cross_entropy
}

model Untied {
    input(batch: 8, seq: 64)
    embed(vocab: 256, dim: 256)
    repeat 1 Widen(d: 256)
    norm rms
    head untied                        // untied heads take any width
    loss cross_entropy
}
