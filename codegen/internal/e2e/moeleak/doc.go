// Package moeleak is moeleak.bf generated in float32 by
// `go test ./codegen -update`: expert choice over group sequence in a
// causal model, built with leak: allow. Its test shows the leak the
// checker refuses without that attribute.
package moeleak
