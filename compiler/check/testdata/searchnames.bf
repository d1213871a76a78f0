// Search declarations share the file-level namespace.
import "std/transformer.bf"

model M {
    input(batch: 16, seq: 64)
    embed(vocab: 256, dim: 64)
    repeat 2 Transformer(d: 64, heads: 4)
    norm rms
    head tied
    loss cross_entropy
}

search S {
    baseline M
    d: [64, 128]
}

search S { // ERROR "DuplicateDecl: search S redeclared; rename one of them"
    baseline M
}

block T(d: dim) {
    ff = ffn(hidden: d)
}

search T { // ERROR "DuplicateDecl: search T redeclared; rename one of them"
    baseline M
}

search Transformer { // ERROR "DuplicateDecl: search Transformer redeclared"
    baseline M
}

search U {
    baseline M
}

model U { // ERROR "DuplicateDecl: model U redeclared"
    input(batch: 16, seq: 64)
    embed(vocab: 256, dim: 64)
    repeat 2 Transformer(d: 64, heads: 4)
    norm rms
    head tied
    loss cross_entropy
}

dim width = 4 * S        // ERROR "UnknownName: S is a search, not a value; width needs a dim"

model N {
    input(batch: 16, seq: 64)
    embed(vocab: 256, dim: 64)
    repeat 2 S(d: 64)    // ERROR "UnknownName: S is a search, not a block"
    norm rms
    head tied
    loss cross_entropy
}

search Wrong {
    baseline S           // ERROR "baseline S is a search; the baseline of a search is a model"
}
