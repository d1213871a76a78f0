// Found by bfc search: trial 29 of search CharLMBlocks (space.bf, random, seed 1):
// 2.499 held-out bits per byte after 2m0s of training, 45.0 ms per step.

block Candidate() {
    norm rms pre
    attn1 = attention(heads: 8, causal: true)
    moe1 = moe(experts: 4, hidden: 128, act: sqrelu, route: top_k(k: 2, capacity: 2, group: position, aux: 0.01))
    moe2 = moe(experts: 8, hidden: 256, act: sqrelu, route: top_k(k: 2, capacity: 2, group: position, aux: 0.01))
}

model CharLM {
    input(batch: 16, seq: 64)
    embed(vocab: 256, dim: 96, pos: learned)
    repeat 2 Candidate()
    norm rms
    head tied
    loss cross_entropy
}
