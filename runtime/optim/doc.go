// Package optim updates bfc model parameters: AdamW with decoupled weight
// decay, Adafactor as the Brainformer/GLaM papers trained (factored second
// moments, β1 = 0, β2 = 0.99, update clipping), global gradient-norm
// clipping and learning-rate schedules.
package optim
