// DenseLM is the dense baseline of the example: a small Transformer that
// reads bytes and predicts the next one. Squared ReLU (Primer) in the
// feed-forward layers and 64-byte windows train fastest on 2 cores.
import "std/transformer.bf"

model DenseLM {
    dim vocab = 256
    dim d = 128
    int heads = 4
    int layers = 4

    input(batch: 16, seq: 64)
    embed(vocab: vocab, dim: d, pos: learned)
    repeat layers Transformer(d: d, heads: heads, act: sqrelu)
    norm rms
    head tied
    loss cross_entropy
}
