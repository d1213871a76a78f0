// Found by bfc search: trial 36 of search CharLMBlocks (space.bf, evolution, seed 1):
// 2.612 held-out bits per byte after 2m0s of training, 41.4 ms per step.

block Candidate() {
    norm rms pre
    attn1 = attention(heads: 4, causal: true)
    ffn1 = ffn(hidden: 128, act: sqrelu)
    ffn2 = ffn(hidden: 256, act: sqrelu)
    moe1 = moe(experts: 4, hidden: 256, act: gelu, route: expert_choice(capacity: 1, group: position))
}

model CharLM {
    input(batch: 16, seq: 64)
    embed(vocab: 256, dim: 96, pos: learned)
    repeat 2 Candidate()
    norm rms
    head tied
    loss cross_entropy
}
