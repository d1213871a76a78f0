// Package moeinfer is moemodel.bf generated as an inference-only float32
// package by `go test ./codegen -update`; its tests compare it with the
// training build. Its Forward and Infer share one workspace per moe layer.
package moeinfer
