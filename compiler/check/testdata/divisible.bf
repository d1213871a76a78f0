// Divisions that do not come out even.

dim d = 256
int heads = 3
dim hd = d / heads           // ERROR "InvalidDim: d / heads: 256 is not divisible by 3"
dim ok = d / 4 / 2           // 32
dim q = (d + 1) / 2 * 2      // ERROR "\(d \+ 1\) / 2: 257 is not divisible by 2"
dim z = d % (heads - 3)      // ERROR "InvalidDim: d % \(heads - 3\): division by zero"
real frac = 1 / 3            // reals divide: no error

block B(d: dim, heads: int) {
    dim hd = d / heads                          // ERROR "InvalidDim: d / heads: 256 is not divisible by 6"
    attn = attention(heads: heads, head_dim: hd)
    a2 = attention(heads: 5)                    // ERROR "InvalidDim: head_dim = width / heads: 256 is not divisible by 5"
    a3 = attention(heads: 5, head_dim: 32)      // an explicit head_dim needs no division
    ff = ffn(hidden: 1000 / 7)                  // ERROR "1000 / 7: 1000 is not divisible by 7"
}

model M {
    input(batch: 8, seq: 64)
    embed(vocab: 256, dim: d)
    repeat 2 B(d: d, heads: 4)
    repeat 1 B(d: d, heads: 6)
    norm rms
    head tied
    loss cross_entropy
}
