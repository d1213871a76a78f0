// Package gradinfer is gradmodel.bf generated as an inference-only float32
// package by `go test ./codegen -update`; its tests compare it with the
// training build.
package gradinfer
