// Package train is the training loop shared by bfc's examples: batches from a
// byte corpus, AdamW or Adafactor with a warm-up schedule and gradient
// clipping, held-out evaluation in bits per byte, atomic training
// checkpoints (parameters, optimizer state, step, sampler RNG) with exact
// resume, a live progress line, and text generation from a trained model.
// docs/training.md describes the checkpoint layout.
package train
