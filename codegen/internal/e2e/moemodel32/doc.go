// Package moemodel32 is moemodel.bf generated in float32, as users build
// it, by `go test ./codegen -update`; its tests check that a training step
// with moe layers allocates nothing once warm, that checkpoints of the
// expert tensors round-trip, and that float32 agrees with the float64
// build.
package moemodel32
