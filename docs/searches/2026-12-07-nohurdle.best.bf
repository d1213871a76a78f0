// Found by bfc search: trial 27 of search CharLMBlocks (space.bf, evolution, seed 1):
// 2.606 held-out bits per byte after 1m0s of training, 17.5 ms per step.

block Candidate() {
    norm rms pre
    attn1 = attention(heads: 8, causal: true)
    moe1 = moe(experts: 4, hidden: 256, act: sqrelu, route: expert_choice(capacity: 2, group: position))
}

model CharLM {
    input(batch: 16, seq: 64)
    embed(vocab: 256, dim: 96, pos: learned)
    repeat 1 Candidate()
    norm rms
    head tied
    loss cross_entropy
}
