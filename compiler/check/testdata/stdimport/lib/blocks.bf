import "more.bf"

block Wide(d: dim) {
    ff = ffn(hidden: mult * d, act: sqrelu)
}
