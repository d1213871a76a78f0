import "std/transformer.bf"
import "std/glam.bf"
import "../blocks/mine.bf"

model Dense {
    dim d = 512
    int n = 6
    input(batch: 8, seq: 1024)
    embed(vocab: 32000, dim: d, pos: none)
    repeat n Transformer(d: d, heads: 8)
    norm layer
    head untied
    loss cross_entropy
}

model Mixed {
    dim d = 256
    input(batch: 4, seq: 256,)
    embed(vocab: 256, dim: d, pos: learned)
    repeat 2 [Attn(d: d), Moe(d: d, experts: 8), Ffn(d: d)]
    repeat 1 [Transformer(d: d, heads: 4),]
    repeat n / 2 + 1 Transformer(d: d, heads: 4)
    norm none
    head tied
    loss cross_entropy
}

model Empty {}
