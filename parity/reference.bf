// Reference is the reference block of the performance design
// (shared/design/performance.md, "The reference block"), the block bfc's
// speed is measured on: batch 8 × sequence 256, d 256, no biases, four
// pre-RMSNorm residual sub-layers (eps 1e-6): causal attention (4 heads of
// 64, fused QKV), a moe layer, a dense FFN (256→1024→256, erf GELU), the
// moe layer again. Each moe layer has 8 experts of 256→1024→256 with GELU
// and routes with expert choice at capacity 2 over group batch: each
// expert takes its 2048·2/8 = 512 tokens of highest probability among all
// of the batch's tokens, so the block sees the future (leak: allow): a
// speed benchmark, not a causal LM.
//
// Around the block, a byte vocabulary (256), learned positions, a final
// RMSNorm and a tied head make it a model bfc builds; they are not part of
// the reference block, whose forward matmul FLOPs at 2048 tokens are the
// design's 12.37 GFLOP (docs/parity.md). The parity test builds a reduced
// instance of this file (see doc.go's go:generate line).

// ReferenceBlock is the reference block at width d.
block ReferenceBlock(d: dim, heads: int, experts: int, hidden: dim, capacity: real) {
    norm rms pre
    attn = attention(heads: heads, head_dim: d / heads, causal: true)
    moe1 = moe(experts: experts, hidden: hidden, act: gelu, route: expert_choice(capacity: capacity, group: batch, leak: allow))
    ffn = ffn(hidden: hidden, act: gelu)
    moe2 = moe(experts: experts, hidden: hidden, act: gelu, route: expert_choice(capacity: capacity, group: batch, leak: allow))
}

model Reference {
    dim vocab = 256
    dim d = 256
    int heads = 4
    int experts = 8
    int batch = 8
    int seq = 256

    input(batch: batch, seq: seq)
    embed(vocab: vocab, dim: d, pos: learned)
    repeat 1 [ReferenceBlock(d: d, heads: heads, experts: experts, hidden: 4 * d, capacity: 2)]
    norm rms
    head tied
    loss cross_entropy
}
