// Package optim updates bfc model parameters: AdamW with decoupled weight
// decay, global gradient-norm clipping and learning-rate schedules.
package optim
