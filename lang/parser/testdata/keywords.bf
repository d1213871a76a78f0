// Keywords are not reserved: they are names wherever a name is expected.
block norm(norm: dim, dim: dim, block: int) {
    norm rms
    norm = ffn(hidden: norm, act: relu)
    dim = ffn(hidden: dim)
    repeat = attention(heads: block)
    int model = 3
}

model repeat {
    repeat(times: 2)
    norm(kind: rms)
    head(kind: tied)
    repeat 2 norm(norm: 4, dim: 8, block: 2)
    repeat (2) model(x: 1)
    dim int = 3
}
