// Search spaces: every error of a space in one run, at its position.
import "std/brainformer.bf"
import "std/transformer.bf"

model M {
    input(batch: 16, seq: 64)
    embed(vocab: 256, dim: 64)
    repeat 2 Brainformer6(d: 64, heads: 4, experts: 4)
    norm rms
    head tied
    loss cross_entropy
}

model Mixed {
    input(batch: 16, seq: 64)
    embed(vocab: 256, dim: 64)
    repeat 1 [Transformer(d: 64, heads: 4), Brainformer6(d: 64, heads: 4, experts: 4)]
    norm rms
    head tied
    loss cross_entropy
}

dim wide = 96

search Good {
    baseline M
    blocks: range(min: 1, max: 3)
    d: [64, wide]
    ffn(hidden: [128, 2 * wide], act: [gelu, sqrelu])
    moe(route: [expert_choice(capacity: [1, 2], group: position), top_k(k: [1, 2], group: position)])
}

search NoBaseline { // ERROR "MissingStmt: search NoBaseline names no baseline"
    d: [64]
}

search Bad {
    baseline M
    blocks: [1, 2.5] // ERROR "InvalidAttrType: 2.5 is a real; blocks needs an int"
    sublayers: range(min: 8, max: 3) // ERROR "InvalidValue: empty range for sublayers: min 8 is above max 3"
    kinds: [attention, mo] // ERROR "kinds lists sub-layer kinds; mo is not one \(did you mean moe\?\)"
    d: [] // ERROR "InvalidValue: empty choice for d"
    per_layer: 3 // ERROR "InvalidAttrType: 3 is an int; per_layer needs a bool"
    width: [64] // ERROR "UnknownAttr: unknown choice width in search Bad"
    ffn(hidden: [128, 128]) // ERROR "DuplicateDecl: hidden 128 listed twice"
    ffn(act: [gelu]) // ERROR "DuplicateDecl: ffn\(...\) given twice in search Bad"
    attention(heads: [4, 0]) // ERROR "InvalidSize: heads must be between 1 and"
    moe(experts: [4], width: [1]) // ERROR "UnknownAttr: unknown attribute width for moe in a search"
    moe2(experts: [4]) // ERROR "UnknownName: unknown statement moe2 in search Bad"
    attention(act: [gelu]) // ERROR "DuplicateDecl: attention\(...\) given twice"
}

search BadRoute {
    baseline M
    moe(route: [expert_choice(capacity: [1, 0], group: position)]) // ERROR "InvalidRoute: capacity must be positive"
}

search WrongBaseline {
    baseline wide // ERROR "InvalidAttrType: baseline wide is a constant; the baseline of a search is a model"
}

search UnknownBaseline {
    baseline Nope // ERROR "UnknownName: unknown model Nope as the baseline of search UnknownBaseline"
}

search MixedBlocks {
    baseline Mixed // ERROR "baseline Mixed stacks blocks of different kinds"
}

search NoHeads {
    baseline M
    d: [63, 65]
    attention(heads: [4, 8]) // ERROR "EmptySpace: no candidate of search NoHeads can have attention: no d in \[63, 65\] divides by any heads in \[4, 8\]"
}

search NoRoute {
    baseline M
    moe(experts: [64], route: [expert_choice(capacity: 1, group: position)]) // ERROR "EmptySpace: no moe layer of search NoRoute can route"
}

search Dense {
    baseline M
    kinds: [attention, ffn]
    moe(hidden: [64]) // ERROR "search Dense gives choices for moe, but its kinds \(attention, ffn\) leave moe out"
}

model Plain {
    input(batch: 16, seq: 64)
    embed(vocab: 256, dim: 64)
    repeat 2 Transformer(d: 64, heads: 4)
    norm rms
    head tied
    loss cross_entropy
}

search AddsMoE {
    baseline Plain
    kinds: [attention, ffn, moe] // ERROR "MissingAttr: search AddsMoE allows moe sub-layers, but baseline Plain has none to take experts from"
}
