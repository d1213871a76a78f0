// Package search is the engine of bfc search: it evolves candidate blocks
// of a checked search space (check.Space) by regularized (aging) evolution
// or draws them at random, puts every candidate through the checker,
// rejects those whose measured step is slower than the baseline's by more
// than the slack, stops clearly worse trials at a hurdle, and journals
// every event durably so that a search resumes exactly where it stopped.
// Measuring and training a candidate is the Evaluator's job (cmd/bfc runs
// each trial's generated trainer in its own process).
package search
