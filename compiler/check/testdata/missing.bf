// Models must say everything.

model Empty { // ERROR "MissingStmt: model Empty is missing input, embed, repeat, norm, head or loss; add input\(batch: 8, seq: 256\); embed"
}

block B(d: dim) {
    ff = ffn(hidden: 4 * d)
}

model NoLoss { // ERROR "MissingStmt: model NoLoss is missing loss; add loss cross_entropy"
    input(batch: 8, seq: 64)
    embed(vocab: 256, dim: 64)
    repeat 2 B(d: 64)
    norm layer
    head tied
}
