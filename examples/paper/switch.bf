// switch.bf: Switch Transformer: four layers with top-1 MoE, 8 experts.
import "blocks/blocks.bf"

model SwitchLM {
    dim d = 128

    input(batch: 16, seq: 64)
    embed(vocab: 256, dim: d, pos: learned)
    repeat 4 Switch(d: d, heads: 4, experts: 8)
    norm rms
    head tied
    loss cross_entropy
}
