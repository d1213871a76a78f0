// Package moe is bfc's sparse mixture-of-experts layer: router, routing
// rule, dispatch, expert FFNs and combine, forward and backward, generic
// over float32 (training) and float64 (the compiler's finite-difference
// gradient checks; the float64 backward is the exact derivative of the
// float64 forward).
//
// # Layout
//
// Tokens are the rows of x [T, D] with T = batch·seq and token t = b·seq+s.
// Parameters: the router wg [D, E]; w1 [E][D][H1] with H1 = Hidden, or
// 2·Hidden for GLU experts whose W1 columns are [gate | up]; w2
// [E][Hidden][D]. Each parameter is one flat slice.
//
// # Router
//
// logits = x·wg and probs = softmax over the experts of each token (the
// paper's axis, never over tokens). Exponentials and sums run in float64
// and are stored in F, so with F = float32 the router is float32 end to
// end, never lower.
//
// # Routing groups
//
// Selection and capacity are per routing group of n tokens: GroupBatch is
// one group of all T tokens in token order; GroupSequence is one group per
// sequence (members in position order); GroupPosition is one group per
// position holding that position of every sequence (members in batch
// order). Only GroupPosition keeps expert choice causal: an output at
// position s depends on no token at a later position.
//
// # Expert choice ([ExpertChoice], Zhou et al. 2022)
//
// In each group every expert takes its k = floor(n·c/E) tokens of highest
// probs[t,e]; ties go to the lower member index. The gate is the raw
// probability (never renormalised). A token may be taken by 0…E experts;
// a token nobody took gets 0 (the residual carries it). There is no
// balancing loss (Validate rejects AuxWeight ≠ 0). No gradient flows
// through the selection itself.
//
// # Top-k token choice ([TopK], GShard/GLaM for K = 2, Switch for K = 1)
//
// Each token picks its K experts of highest probability (ties: lower
// expert index). For K ≥ 2 the gates are the chosen probabilities
// renormalised over all K chosen experts before any capacity dropping
// (praxis' "legacy" order), so a dropped choice still counts in the
// normaliser and still receives gradient through it. For K = 1 the gate is
// the raw probability as in Switch Transformer (renormalising a single
// choice would make every gate 1 and cut the router off from the task
// loss). Expert capacity per group is C = ceil(K·n·c/E). Placement: for
// rank r = 0…K-1, then for members in group order, the choice's position is
// the number of earlier placements into that expert in the group; it is
// placed when position < C and dropped otherwise, so all first choices
// come before any second choice. A dropped choice contributes nothing.
//
// Auxiliary losses, returned by [Forward] as aux = AuxWeight·balance +
// ZWeight·z: balance = E·Σ_e f_e·P_e over all T tokens, with f_e the
// fraction of tokens whose first choice is e (before dropping, no gradient)
// and P_e the mean of probs[:,e] (top-k only); the router z-loss
// z = mean_t logsumexp(logits_t)² (either rule).
//
// # Experts and combine
//
// Each expert gathers its tokens into a compact block (only filled slots),
// computes act(X·W1)·W2 or GLU(X·W1)·W2 with [kernels.Gemm], and the
// combine sets y[t] = Σ gate·out over the token's slots in expert order.
// Experts run in parallel through [kernels.Parallel], whose nested Gemm
// calls take only idle workers; routing, gather, combine and the
// scatter-add of the backward run in parallel over tokens, groups or
// experts, each writing disjoint rows, so results do not depend on the
// number of cores.
//
// Backward adds to the parameter gradients; [BackwardSet] sets them,
// which generated code calls when no other instruction writes them first:
// at many experts the expert weight gradients exceed the caches, and
// setting them saves zeroing them and reading them back.
//
// # Memory
//
// A [Workspace] holds everything Forward leaves for Backward, sized once
// for MaxBatch·MaxSeq tokens; Backward adds its scratch on first use. In
// steady state Forward and Backward allocate nothing.
package moe
