// Values of the wrong type.

dim d = 256
real lr = 0.5
bool on = true
int n = 2.5                  // ERROR "InvalidAttrType: 2.5 is a real; n needs an int"
dim e = d * lr               // ERROR "lr is a real; e needs a dim"
real r = d / 3               // reals divide without remainder: no error
bool b = on + true           // ERROR "cannot use \+ here: b needs a bool"
dim w = gelu                 // ERROR "gelu is an activation; w needs a dim"

block B(d: dim, act: act = gelu, flag: bool = 3) { // ERROR "3 is an int; flag needs a bool"
    a1 = attention(heads: 2.0)                 // ERROR "2.0 is a real; heads needs an int"
    a2 = attention(heads: 4, causal: d)        // ERROR "d is a dim; causal needs a bool"
    f1 = ffn(hidden: 4 * d, act: d)            // ERROR "d is a dim; act needs an activation"
    f2 = ffn(hidden: act)                      // ERROR "act is an activation; hidden needs a dim"
    f3 = ffn(hidden: d, residual: flag, eps: 2) // ints promote to reals: no error
    f4 = ffn(hidden: d, norm: 1)               // ERROR "1 is an int; norm needs a norm kind"
    f5 = ffn(hidden: d, act: -gelu)            // ERROR "cannot use - here"
    f6 = ffn(hidden: top_k(k: 2))              // ERROR "InvalidAttrType: cannot use routing rule top_k here: hidden needs a dim"
}

model M {
    input(batch: 8, seq: lr)                    // ERROR "lr is a real; seq needs an int"
    embed(vocab: 256, dim: d, pos: rms)         // ERROR "InvalidValue: rms is a norm kind; pos needs a position embedding: learned or none"
    repeat 1 B(d: d, act: true)                 // ERROR "true is a bool; act needs an activation"
    norm rms
    head untied
    loss cross_entropy
}
