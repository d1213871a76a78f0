import "std/brainformer.bf"

// A search space around model M.
search S {
    baseline M
    blocks: [1, 2, 3]
    sublayers: range(min: 3, max: 8)
    kinds: [attention, ffn, moe]
    d: [96, 128, 192,]
    per_layer: true
    ffn(hidden: [128, 256], act: [gelu, sqrelu])
    moe(experts: 8, route: [expert_choice(capacity: [1, 2], group: position), top_k(k: [1, 2])])
    attention(heads: [], head_dim: [[2 * d, -(4)], d / 2])
}

// Keywords are names here too.
search search {
    baseline baseline
    baseline: [baseline]
    baseline(search: [search])
    norm: [rms, layer]
}

search Empty {}

dim lists = [1, [2, 3]]
