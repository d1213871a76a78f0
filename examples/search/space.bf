// space.bf: a search space around examples/charlm's Brainformer model, for bfc search.
//
// The baseline is CharLM (../charlm/brainformer.bf): two Brainformer6 blocks of d 128
// with expert-choice routing. Every candidate keeps its input (batch 16 of
// 64 bytes), byte embedding, final RMSNorm, tied head and loss, and
// stacks one candidate block. What may vary follows the Brainformer
// paper's Table 1, scaled to what two cores train in minutes:
//
//     bfc search examples/search/space.bf -budget 60m -trial 2m
import "../charlm/brainformer.bf"

search CharLMBlocks {
    baseline CharLM

    // How many copies of the block are stacked, and its sub-layers.
    blocks: [1, 2, 3, 4]
    sublayers: range(min: 2, max: 8)
    kinds: [attention, ffn, moe]

    // The model width (embedding and residual stream).
    d: [96, 128, 160]

    // Each sub-layer may choose its own widths and activation; the block's
    // values are the defaults.
    per_layer: true

    attention(heads: [2, 4, 8])
    ffn(hidden: [128, 256, 384, 512], act: [sqrelu, gelu, geglu])
    moe(experts: [4, 8], hidden: [128, 256], act: [sqrelu, gelu], route: [expert_choice(capacity: [1, 2], group: position), top_k(k: [1, 2], capacity: [1.25, 2], group: position)])
}
