// Package train is the training loop shared by bfc's examples: batches from a
// byte corpus, AdamW with a warm-up schedule and gradient clipping, held-out
// evaluation in bits per byte, checkpoints, a live progress line, and text
// generation from a trained model.
package train
