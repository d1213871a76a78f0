// Zero, negative and oversized sizes.

dim d = 128 - 256             // ERROR "InvalidSize: d must be positive, got -128"
dim z = 0                     // ERROR "InvalidSize: z must be positive, got 0"
int n = -3                    // ints may be negative
dim big = 65536 * 65536       // ERROR "InvalidSize: big is 4294967296; sizes are limited to 16777216"
int huge = 4611686018427387904 * 4 // ERROR "InvalidValue: 4611686018427387904 \* 4 overflows"
int lit = 99999999999999999999 // ERROR "InvalidValue: integer 99999999999999999999 is too large"
dim uses = d * 2              // d is invalid and was reported: no error here

block B(d: dim, heads: int) {
    attn = attention(heads: heads)          // ERROR "InvalidSize: heads must be between 1 and 16777216, got -4"
    a0 = attention(heads: 0)                // ERROR "InvalidSize: heads must be between 1 and 16777216, got 0"
    ff = ffn(hidden: d - 64)                // ERROR "InvalidSize: hidden must be positive, got 0"
    f2 = ffn(hidden: -d)                    // ERROR "InvalidSize: hidden must be positive, got -64"
}

model M {
    input(batch: 0, seq: -1)                // ERROR "InvalidSize: batch must be between 1 and 16777216, got 0"
    embed(vocab: 0, dim: 64)                // ERROR "InvalidSize: vocab must be positive, got 0"
    repeat 0 B(d: 64, heads: 4)             // ERROR "InvalidSize: repeat count must be at least 1, got 0"
    repeat 1 B(d: 64, heads: -4)
    repeat 1 B(d: -64, heads: 4)            // ERROR "InvalidSize: d must be positive, got -64"
    repeat 100000 B(d: 64, heads: 4)        // ERROR "InvalidSize: repeat makes the model 100002 block instances deep; the limit is 16384"
    norm rms
    head untied
    loss cross_entropy
}
