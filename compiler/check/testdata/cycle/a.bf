import "b.bf"

block A(d: dim) {
    ff = ffn(hidden: 4 * d)
}
