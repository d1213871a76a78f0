// Package gradmodel32 is gradmodel.bf generated in float32, as users build
// it, by `go test ./codegen -update`; its tests check that a training step
// allocates nothing, checkpoints round-trip and bad ones are refused, and
// that float32 agrees with the float64 build.
package gradmodel32
