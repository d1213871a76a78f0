// A character-level language model with a pre-norm Transformer block.
import "std/transformer.bf"

dim vocab = 256
dim width = 256
int layers = 4

// Transformer is one pre-norm block: attention, then a feed-forward layer.
block Transformer(d: dim, heads: int, hidden: dim = 4 * d, act: act = gelu) {
    norm rms pre
    attn = attention(heads: heads, head_dim: d / heads, causal: true)
    mlp = ffn(hidden: hidden, act: act)
}

model CharLM {
    input(batch: 32, seq: 128)
    embed(vocab: vocab, dim: width, pos: learned)
    repeat layers Transformer(d: width, heads: 4)
    norm rms
    head tied
    loss cross_entropy
}
