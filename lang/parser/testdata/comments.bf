// File header comment.

// More header.
import "std/transformer.bf" // trailing on import

// Before a constant.
dim d = 256 // trailing on a constant
dim e = 4 * // inside an expression
    d

// Before a block.
block B(d: dim, // trailing on a parameter
    // before a parameter
    heads: int) { // trailing on the opening brace
    // first in the body
    norm rms pre // trailing on norm

    // after a blank line
    attn = attention(heads: heads, // inside a call
        head_dim: d / heads)
    mlp = ffn(
        // before the first argument
        hidden: 4 * d,
        act: gelu, // trailing on an argument
        // after the last argument
    ) // trailing on a sub-layer
    // last in the body
} // trailing on the closing brace

model M { // trailing on the model brace
    repeat 2 [ // inside a list
        B(d: d, heads: 4), // after a list element
        B(d: d, heads: 8),
    ]
    norm rms // trailing on norm
    // before head
    head tied
    loss cross_entropy
    // end of the model
}
// End of file.

// Really the end.
