// A list of choices is a value only in a search declaration.
import "std/brainformer.bf"

dim d = [64, 128]                        // ERROR "InvalidValue: a list of choices is only allowed in a search declaration"
int n = 2 * [1, [2, 3]]                  // ERROR "^InvalidValue: a list of choices is only allowed in a search declaration$"
dim e = []                               // ERROR "a list of choices is only allowed in a search declaration"

block B(w: dim, h: dim = [1, 2]) {       // ERROR "a list of choices is only allowed in a search declaration"
    ff = ffn(hidden: [w, 2 * w])         // ERROR "a list of choices is only allowed in a search declaration"
    g = ffn(hidden: w, wide: 2)          // ERROR "UnknownAttr: unknown attribute wide for ffn"
    u = ffn(
        hidden: w,
        wide:                            // ERROR "unknown attribute wide for ffn"
            [1],                         // ERROR "a list of choices is only allowed in a search declaration"
    )
    m = moe(experts: 4, hidden: w, route: top_k(k: [1, 2], group: position)) // ERROR "a list of choices is only allowed in a search declaration"
}

block Unused(w: dim) {
    x = nope(                            // ERROR "UnknownName: unknown layer nope"
        size: [w],                       // ERROR "a list of choices is only allowed in a search declaration"
    )
}

model M {
    int layers = [1, 2]                  // ERROR "a list of choices is only allowed in a search declaration"
    input(batch: 16, seq: 64)
    embed(vocab: 256, dim: [64])         // ERROR "a list of choices is only allowed in a search declaration"
    repeat [2] Brainformer6(d: 64, heads: 4, experts: 4) // ERROR "a list of choices is only allowed in a search declaration"
    norm rms
    head tied
    loss cross_entropy
}

model Base {
    input(batch: 16, seq: 64)
    embed(vocab: 256, dim: 64)
    repeat 2 Brainformer6(d: 64, heads: 4, experts: 4)
    norm rms
    head tied
    loss cross_entropy
}

// The example of the language reference: no errors.
search S {
    baseline Base
    blocks: [1, 2, 3]
    sublayers: range(min: 3, max: 8)
    kinds: [attention, ffn, moe]
    d: [96, 128, 192]
    per_layer: true
    ffn(hidden: [128, 256], act: [gelu, sqrelu])
    moe(experts: 8, route: [expert_choice(capacity: [1, 2], group: position), top_k(k: [1, 2])])
}

// Inside a search a list must be the whole value of a choice.
search Nested {
    baseline Base
    d: [[64, 128]]                       // ERROR "InvalidValue: a list of choices must stand alone as the value of a choice; here d needs a dim"
    ffn(hidden: [64, 128] * 2)           // ERROR "a list of choices must stand alone as the value of a choice; here hidden needs a dim"
}
