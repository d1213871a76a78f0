// dense_small.bf: the dense control for searched_found.bf: two Transformer
// layers at d 96 with feed-forwards of 6·d, so a token activates as many
// parameters as in the searched model as found (outside the matching).
import "blocks/controls.bf"

model DenseSmall {
    dim d = 96

    input(batch: 16, seq: 64)
    embed(vocab: 256, dim: d, pos: learned)
    repeat 2 DenseWide(d: d, heads: 8, hidden: 6 * d)
    norm rms
    head tied
    loss cross_entropy
}
