// Duplicate declarations, each reported once at the second declaration.

dim d = 256
int d = 4 // ERROR "DuplicateDecl: constant d redeclared"

block B(d: dim, d: int) { // ERROR "parameter d redeclared"
    dim d = 3                     // ERROR "constant d redeclared"
    norm rms pre
    norm layer post               // ERROR "block B sets its default norm twice"
    attn = attention(heads: 4)
    attn = ffn(hidden: 64)        // ERROR "sub-layer attn redeclared"
    ff = ffn(hidden: 64, hidden: 32) // ERROR "attribute hidden given twice"
}

block B() {} // ERROR "block B redeclared"

model M {
    dim v = 256
    dim v = 128                   // ERROR "constant v redeclared"
    input(batch: 8, seq: 64)
    input(batch: 8, seq: 64)      // ERROR "model M has a second input statement"
    embed(vocab: v, dim: 64)
    repeat 1 B(d: 64, d: 64)      // ERROR "parameter d given twice"
    norm rms
    head tied
    head untied                   // ERROR "second head statement"
    loss cross_entropy
}

model M { // ERROR "model M redeclared"
    input(batch: 8, seq: 64)
    embed(vocab: 256, dim: 64)
    repeat 1 B(d: 64)
    norm rms
    head tied
    loss cross_entropy
}
