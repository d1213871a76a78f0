// Package plan assigns storage to an IR program's values at compile time.
//
// Generated code allocates a few flat arenas once, in New, and every value
// becomes a constant element offset into one of them:
//
//   - the parameter arena holds every KindParam value, in Program.Params order;
//   - the gradient arena holds their gradients (KindGrad), in the same order;
//   - the training arena holds the temporaries of Forward followed by
//     Backward: activations and activation gradients;
//   - the evaluation arena holds the temporaries of Forward alone (loss
//     without backward, used by inference-only builds);
//   - the inference arena holds the temporaries of Forward[:NInfer].
//
// Int32 inputs (tokens, targets) live outside the arenas, and so does the
// internal state of a moe layer (routing decisions, expert activations,
// the router probabilities its backward pass needs): it lives in the
// layer's workspace (runtime/moe), which generated code allocates in New,
// one per moe layer and pass. OpMoE and OpMoEGrad are planned like other
// ops: their arguments and results (x, y, the [1,1] router losses and the
// gradients) are values with slots; OpMoEGrad accumulates.
//
// A value whose rows are a multiple of the token count T is planned at its
// largest size, MaxTokens = MaxBatch·MaxSeq rows; at run time a value with
// T rows uses only the prefix arena[off : off+T·cols] of its slot.
//
// Within a temporary arena slots are reused by liveness: a value is live from
// its first access to its last one (inclusive), over the arena's instruction
// sequence, and two values share memory only if their live ranges are
// disjoint. Inclusive ranges mean an instruction's outputs never share memory
// with its inputs. Outputs of the program (Logits, Loss) stay live to the end
// of the forward section so callers can read them after the run.
//
// Two consecutive forward instructions that one kernel runs (Layout.Fused)
// count as one instruction, so no output of either shares memory with an
// input of either, with one exception: where a fused matmul's product h is
// read by nothing after the activation of it (the inference and evaluation
// arenas; the training arena's backward pass reads h) and is not a program
// output, act(h) is placed exactly on h, so fusion does not keep both live
// at once; kernels.GemmAct then activates C in place.
//
// The training arena covers Forward and Backward as one sequence, so once
// the backward pass has read a forward activation for the last time its slot
// can hold an activation gradient: a backward pass consumes the state of the
// forward pass before it, and generated code runs at most one Backward per
// Forward.
//
// Because backward instructions accumulate (+=) into their outputs, a value
// whose first access is an accumulating write must be zeroed first: the plan
// records, per instruction, which values to zero (Arena.Zero) rather than
// clearing whole arenas.
package plan
