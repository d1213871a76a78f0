// Declarations clash across files; the error is at the importing file's.
import "lib.bf"
import "std/transformer.bf"

dim d = 512 // ERROR "DuplicateDecl: constant d redeclared"

block Transformer(d: dim) { // ERROR "DuplicateDecl: block Transformer redeclared"
    ff = ffn(hidden: d)
}

model M {
    input(batch: 8, seq: 64)
    embed(vocab: 256, dim: d)
    repeat 1 Transformer(d: d, heads: 8)
    norm rms
    head tied
    loss cross_entropy
}
