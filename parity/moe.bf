// MoEParity stacks the standard sparse blocks in one small model, for the
// numerical parity test against the PyTorch twin in torch/bfc_torch.py:
// a GLaM pair (top-2 over group position), a Switch layer (top-1 over group
// batch) and a Brainformer6 block (expert choice over group position), 4
// experts each. The capacities are low so that top_k drops choices.
import "std/glam.bf"
import "std/switch.bf"
import "std/brainformer.bf"

model MoEParity {
    dim vocab = 64
    dim d = 32
    int heads = 4
    int experts = 4

    input(batch: 4, seq: 8)
    embed(vocab: vocab, dim: d, pos: learned)
    repeat 1 [
        GLaM(d: d, heads: heads, experts: experts, hidden: 2 * d, capacity: 1, aux: 0.01, zloss: 0.001),
        Switch(d: d, heads: heads, experts: experts, hidden: 2 * d, capacity: 1, aux: 0.01, zloss: 0.001),
        Brainformer6(d: d, heads: heads, experts: experts, capacity: 1, zloss: 0.001),
    ]
    norm rms
    head untied
    loss cross_entropy
}
