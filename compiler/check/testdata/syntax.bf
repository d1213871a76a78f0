// A syntax error stops the file's check.

block B(d: dim) {
    ff = ffn(hidden: 4 * d,, act: gelu) // ERROR "BadSyntax: unexpected"
}
