// Package check is bfc's semantic checker. It loads a .bf root file and the
// files it imports, resolves every name, evaluates every constant, checks
// each block definition and expands each model into a Model: every
// repeated block instance unrolled into Layers, every size a number.
//
// The phases of a run are listed in checker.run (check.go), one file per
// concern:
//
//   - load.go: read and parse the roots and their imports ("std/NAME.bf"
//     from Config.Std, other paths relative to the importing file), and
//     find import cycles.
//   - resolve.go: one namespace for the file-level constants, blocks and
//     models of all loaded files (imports of imports included); scopes;
//     constant evaluation on first use. Only the root files' models are
//     checked and expanded.
//   - override.go: build-time values for file-level and model constants.
//   - expr.go, value.go: constant expressions. Ints (dims are positive
//     ints) and reals; "/" on ints must divide exactly; real literals only
//     where a real is wanted. Names resolve innermost first: block
//     parameters and locals (or a model's constants), then file-level
//     constants, then the words of the universe (universe.go). Scoping is
//     lexical: a block body never sees the constants of the model that
//     repeats it, only what its arguments pass in.
//   - block.go, layer.go: blocks and their sub-layers. A table of
//     primitives (attention, ffn, moe) gives each sub-layer's attributes
//     and how it maps the stream's width.
//   - route.go: moe and its routing rules (expert_choice, top_k), written
//     as calls in the route attribute. Checks that need the whole model
//     (expert choice's k at the declared maximum group size, and the
//     causal-leak rule) run after the model is expanded.
//   - models.go: model statements, repeat expansion, the head and loss.
//
// Errors are diagnostics with a code from the catalogue in codes.go,
// positioned at the most specific node. Cascades are suppressed the way
// go/types does it: a failed expression yields an invalid value, and
// nothing computed from an invalid value is reported again. A block's
// definition is checked once on its own, with its parameters unknown;
// expanding its instances later reports only errors that depend on the
// arguments or the stream width, each with a note naming the instance
// ("in blocks.3 (repeat at model.bf:12:5)").
package check
