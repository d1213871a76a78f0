// Package gradbf16 is gradmodel.bf generated in bf16 precision, by `go
// test ./codegen -update`; its tests check a training step against the
// float64 build within bfloat16's reach (and far enough from it to show
// bfloat16 is in use), that it allocates nothing, and that decoding
// agrees with Infer.
package gradbf16
