// Imports that cannot be read. Names they might have declared are not
// reported as unknown.
import "missing.bf"          // ERROR "ImportNotFound: cannot find import \"missing.bf\": no such file"
import "std/transformers.bf" // ERROR "ImportNotFound: std/transformers.bf is not in the standard library \(did you mean std/transformer.bf\?\); it has std/brainformer.bf, std/glam.bf, std/switch.bf or std/transformer.bf"
import "std/transformer.bf"

dim d = 4 * width // width may come from missing.bf: not reported

model M {
    input(batch: 8, seq: 64)
    embed(vocab: 256, dim: 64)
    repeat 2 Missing(d: 64)
    repeat 1 Transformer(d: 64, heads: 4)
    norm rms
    head tied
    loss cross_entropy
}
