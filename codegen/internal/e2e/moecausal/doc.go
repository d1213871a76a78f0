// Package moecausal is moecausal.bf generated in float32 by
// `go test ./codegen -update`; its tests check bfc's decoding policy for
// moe layers in causal models (docs/language.md): routing over group
// position makes expert choice (and top-k) causal, so a later token never
// changes an earlier position's logits, and decoding every sequence of a
// batch in lockstep, one position at a time, gives the full-sequence
// logits.
package moecausal
