// Values of the right type that the language does not accept.

dim a = b + 1                // ERROR "InvalidValue: constant a is defined in terms of itself"
dim b = a * 2
dim self = self              // ERROR "constant self is defined in terms of itself"

block B(d: dim) {
    norm batch pre                             // ERROR "InvalidValue: unknown norm kind batch; want rms, layer or none"
    f1 = ffn(hidden: d, act: gleu)             // ERROR "InvalidValue: unknown activation gleu \(did you mean gelu\?\); want relu, gelu, gelu_tanh, sqrelu, silu, reglu, geglu or swiglu"
    f2 = ffn(hidden: d, norm: rsm)             // ERROR "unknown norm kind rsm \(did you mean rms\?\)"
    f3 = ffn(hidden: d, placement: after)      // ERROR "unknown norm placement after; want pre or post"
    f4 = ffn(hidden: d, eps: 0.0)              // ERROR "InvalidValue: eps must be positive, got 0"
    f5 = ffn(hidden: d, act: pre)              // ERROR "pre is a norm placement; act needs an activation"
    f6 = ffn(hidden: d, eps: 1e400)            // ERROR "number 1e400 is out of range"
}

model M {
    input(batch: 8, seq: 64)
    embed(vocab: 256, dim: 64, pos: rope)       // ERROR "unknown position embedding rope; want learned or none"
    repeat 1 B(d: 64)
    norm batch                                  // ERROR "InvalidValue: unknown norm kind batch; want rms, layer or none"
    head shared                                 // ERROR "InvalidValue: unknown head kind shared; want tied or untied"
    loss mse                                    // ERROR "InvalidValue: unknown loss mse; want cross_entropy"
}
