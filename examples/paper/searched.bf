// searched.bf: three copies of the block bfc search found.
import "blocks/blocks.bf"

model SearchedLM {
    dim d = 128

    input(batch: 16, seq: 64)
    embed(vocab: 256, dim: d, pos: learned)
    repeat 3 Searched(d: d)
    norm rms
    head tied
    loss cross_entropy
}
