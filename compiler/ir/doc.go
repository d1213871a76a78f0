// Package ir is bfc's intermediate representation: a model as straight-line
// lists of kernel-level instructions over 2-D values whose row count is either
// static or the run-time token count T = batch*seq. The forward list ends in
// the loss; autodiff appends the backward list. The text form (Print) is
// stable and is what `bfc ir` shows.
//
// Every op's arguments and results are described by a signature table
// (shape.go): forward ops infer their result types (InferTypes, used by
// Builder), backward ops check theirs. Verify checks a whole program against
// the table and the ordering rules; run it after every stage that builds or
// rewrites a program.
//
// A moe layer is one fused op, OpMoE, with a routing configuration
// (MoEAttrs) and a workspace index: its routing decisions and expert
// activations are state of the layer's workspace, not values, and its
// OpMoEGrad reads that state. It is the one op whose second result (the
// router losses) takes a gradient (Op.GradOuts).
package ir
