// Expert choice's k = floor(n·c/E) at the model's declared maxima: each
// group's n, k below 1; and capacity above E, which makes k exceed n. Attention is not causal here, so no
// group leaks.

block EC(e: int, cap: real) {
    attn = attention(heads: 4, causal: false)
    pos = moe(experts: e, hidden: 64, route: expert_choice(capacity: cap, group: position)) // ERROR "InvalidRoute: expert choice gives each expert k = floor\(n·c/E\) = floor\(8·1/16\) = 0 tokens \(group: position holds one token of each of batch = 8 sequences\), so no expert takes any token; raise capacity to at least 2 \(E/n\), input batch to at least 16 \(E/c\), or use at most 8 experts"
}

block Seq(e: int) {
    s = moe(experts: e, hidden: 64, route: expert_choice(capacity: 0.25, group: sequence)) // ERROR "InvalidRoute: expert choice gives each expert k = floor\(n·c/E\) = floor\(32·0.25/16\) = 0 tokens \(group: sequence holds seq = 32 tokens\), so no expert takes any token; raise capacity to at least 0.5 \(E/n\), input seq to at least 64 \(E/c\), or use at most 8 experts"
}

block Batch(e: int) {
    b = moe(experts: e, hidden: 64, route: expert_choice(capacity: 1, group: batch)) // ERROR "InvalidRoute: .*floor\(256·1/512\) = 0 tokens \(group: batch holds batch·seq = 8·32 = 256 tokens\), so no expert takes any token; raise capacity to at least 2 \(E/n\), batch·seq to at least 512 \(E/c\), or use at most 256 experts"
}

block Tiny(e: int) {
    t = moe(experts: e, hidden: 64, route: expert_choice(capacity: 0.01, group: position)) // ERROR "InvalidRoute: .*floor\(8·0.01/4\) = 0 tokens .*; raise capacity to at least 0.5 \(E/n\), input batch to at least 400 \(E/c\)$"
}

block Big(e: int) {
    g = moe(experts: e, hidden: 64, route: expert_choice(capacity: 5, group: position)) // ERROR "InvalidRoute: expert choice capacity 5 is the average number of experts per token and cannot exceed the layer's 4 experts: each expert would take k = floor\(n·c/E\) > n tokens of a group of n, and an expert takes a token at most once; use capacity of at most 4"
    h = moe(experts: 4, hidden: 64, route: expert_choice(capacity: 4.5, group: sequence))   // ERROR "InvalidRoute: expert choice capacity 4.5 .* at most 4"
}

// Fine: k = floor(8·2/16) = 1, floor(8·4/4) = 8 = n, floor(8·32·1/4) = 64.
block Fine(e: int) {
    a = moe(experts: 16, hidden: 64, route: expert_choice(capacity: 2, group: position))
    b = moe(experts: 4, hidden: 64, route: expert_choice(capacity: 4, group: position))
    c = moe(experts: 4, hidden: 64, route: expert_choice(capacity: 1, group: batch))
    d = moe(experts: 64, hidden: 64, route: top_k(k: 2, capacity: 0.01, group: position)) // top_k's capacity is never below 1
}

model M {
    input(batch: 8, seq: 32)
    embed(vocab: 256, dim: 64)
    repeat 2 EC(e: 16, cap: 1)
    repeat 1 EC(e: 8, cap: 1) // k = 1: no error
    repeat 1 Seq(e: 16)
    repeat 1 Batch(e: 512)
    repeat 1 Tiny(e: 4)
    repeat 1 Big(e: 4)
    repeat 1 Fine(e: 4)
    norm rms
    head tied
    loss cross_entropy
}
