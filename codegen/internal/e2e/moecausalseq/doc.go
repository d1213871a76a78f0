// Package moecausalseq is moecausalseq.bf generated in float32 by
// `go test ./codegen -update`; its tests check that causal expert choice
// (expert_choice(..., causal: true)) over group sequence is causal: a
// later token never changes an earlier position's logits, and Infer on a
// prefix gives the full run's logits.
package moecausalseq
