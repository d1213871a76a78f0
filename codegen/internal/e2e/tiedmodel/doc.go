// Package tiedmodel is tiedmodel.bf generated in float64 by
// `go test ./codegen -update`: a tied head, no position embedding,
// non-causal attention; its tests check gradients and inference.
package tiedmodel
