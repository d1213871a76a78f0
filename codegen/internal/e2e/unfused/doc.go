// Package unfused is moecausal.bf generated in float32 by
// `go test ./codegen -update` with plan.Options.NoFusion: every
// instruction its own kernel. Its tests check that the fused build
// (package moecausal: AddRMSNorm, GemmAct) computes the same losses,
// gradients and logits, bit for bit.
package unfused
