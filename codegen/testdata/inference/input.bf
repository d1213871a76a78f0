// An inference-only build of a small SwiGLU Transformer with a tied head.
import "std/transformer.bf"

model Serve {
    dim vocab = 64
    dim d = 32

    input(batch: 1, seq: 32)
    embed(vocab: vocab, dim: d, pos: learned)
    repeat 2 GatedTransformer(d: d, heads: 4, mult: 2, act: swiglu)
    norm rms
    head tied
    loss cross_entropy
}
