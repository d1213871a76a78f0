// RoutesParity covers, for the numerical parity test against the PyTorch
// twin in torch/bfc_torch.py, what MoEParity (moe.bf) leaves out: the
// standard Brainformer8 and GatedTransformer blocks, a tied head, gated
// experts and the routing groups the standard blocks do not use (expert
// choice over sequence and batch, top-2 over sequence), accepted with
// leak: allow since the model is causal.
import "std/brainformer.bf"
import "std/transformer.bf"

// Groups routes with the groups the standard blocks leave out.
block Groups(d: dim, experts: int) {
    norm rms pre
    ecseq = moe(experts: experts, hidden: d, act: geglu, route: expert_choice(capacity: 1, group: sequence, zloss: 0.001, leak: allow))
    top2seq = moe(experts: experts, hidden: d, act: swiglu, route: top_k(k: 2, capacity: 1, group: sequence, aux: 0.02, leak: allow))
    ecbatch = moe(experts: experts, hidden: 2 * d, act: sqrelu, route: expert_choice(capacity: 1.5, group: batch, leak: allow))
}

model RoutesParity {
    dim vocab = 64
    dim d = 32
    int heads = 4
    int experts = 4

    input(batch: 4, seq: 8)
    embed(vocab: vocab, dim: d, pos: learned)
    repeat 1 [Brainformer8(d: d, heads: heads, experts: experts, zloss: 0.001), Groups(d: d, experts: experts), GatedTransformer(d: d, heads: heads)]
    norm rms
    head tied
    loss cross_entropy
}
