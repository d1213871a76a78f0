// searched_found.bf: the model bfc search found, as found: two copies of its
// block at d 96, with half the activated parameters of the suite.
import "blocks/blocks.bf"

model SearchedFoundLM {
    dim d = 96

    input(batch: 16, seq: 64)
    embed(vocab: 256, dim: d, pos: learned)
    repeat 2 Searched(d: d)
    norm rms
    head tied
    loss cross_entropy
}
