// Package trainstep checks that a steady-state training step (Forward,
// Backward and an optimizer step) of bfc's full-size generated models
// allocates nothing, and benchmarks that step.
package trainstep
