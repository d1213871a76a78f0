// Package moebf16 is moemodel.bf generated in bf16 precision, by `go test
// ./codegen -update`; its tests check that the moe layers run their
// experts in bf16 and that a training step stays within bfloat16's reach
// of the float64 build.
package moebf16
