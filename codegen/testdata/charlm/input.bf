// A byte-level language model from the standard Transformer block: the
// example model at a smaller size.
import "std/transformer.bf"

model CharLM {
    dim vocab = 256
    dim d = 64
    int heads = 4
    int layers = 2

    input(batch: 8, seq: 64)
    embed(vocab: vocab, dim: d, pos: learned)
    repeat layers Transformer(d: d, heads: heads)
    norm rms
    head tied
    loss cross_entropy
}
