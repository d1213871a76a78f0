// main imports a, a imports b, b imports a: the cycle is reported once, at
// the import that closes it.
import "a.bf"

model M {
    input(batch: 8, seq: 64)
    embed(vocab: 256, dim: 64)
    repeat 2 A(d: 64)
    norm rms
    head tied
    loss cross_entropy
}
