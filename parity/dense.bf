// DenseParity is the standard dense Transformer block (std/transformer.bf)
// in a small model, for the numerical parity test against the PyTorch twin
// in torch/bfc_torch.py: two blocks, GELU (erf) feed-forward layers of width
// 4*d, learned positions, a final RMSNorm and a tied head.
import "std/transformer.bf"

model DenseParity {
    dim vocab = 256
    dim d = 32
    int heads = 4
    int layers = 2

    input(batch: 2, seq: 16)
    embed(vocab: vocab, dim: d, pos: learned)
    repeat layers Transformer(d: d, heads: heads)
    norm rms
    head tied
    loss cross_entropy
}
