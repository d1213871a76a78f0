// Package codegen turns a planned IR program into the Go package that
// trains and serves the model: a pure function (Generate) from an
// ir.Program and its plan.Layout to file names and contents, built with
// jennifer and formatted with go/format. It does no disk I/O.
//
// The generated package has the model's dimensions as constants, one Model
// type holding a few arenas allocated once by New (parameters, gradients,
// training activations, inference activations, at offsets from the
// layout), and methods Forward, Backward, Infer, NewDecoder, Params, Save
// and Load.
// Every IR instruction becomes one direct call of a generic runtime/kernels
// function on sub-slices of the arenas, preceded by a comment naming the
// layer it implements, so the generated code reads like the model: a
// training step allocates nothing. Two instructions the layout fuses
// (plan.Layout.Fused) become one call: a residual add and the RMSNorm of
// its sum, kernels.AddRMSNorm; a matmul and the activation of its product,
// kernels.GemmAct (except in the Decoder's Step, which keeps the matmul on
// GemmStreamB). An accumulating matmul or accum whose output slot would be
// zeroed first overwrites it instead (beta 0, copy).
//
// A moe layer is one call of runtime/moe's Forward (and Backward) on the
// layer's workspace: the Model holds one moe.Workspace per moe layer for
// Forward and Backward and another for Infer (inference-only builds share
// one), created in New from a moe.Config literal per layer. Forward and
// Infer check the run's shape against every layer (moe.Config.CheckShape:
// expert choice needs routing groups big enough for k >= 1) before they
// change anything, and return runtime/moe's errors rather than panic.
// Every generated model has Losses (the cross-entropy and the router
// losses of the last Forward), RoutingStats (per moe layer, in order;
// empty for a dense model) and Routes (per moe layer, the tokens each
// expert took and the dropped top-k choices; empty for a dense model).
//
// NewDecoder (decode.go) returns a Decoder that decodes batch sequences
// in lockstep, one position per Step, with per-layer key/value caches
// (kernels.AttentionDecode) and Prefill to start from several positions
// in one pass; it shares the inference arena and workspaces, and refuses
// models whose attention is not causal or whose moe layers route over
// group batch or sequence (docs/language.md, decoding). StepDecoder
// returns it as an interface value for runtime/train.
//
// Output depends only on the inputs: identical programs give identical
// bytes, with no versions or timestamps.
package codegen
