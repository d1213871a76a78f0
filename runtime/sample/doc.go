// Package sample draws tokens from a model's logits: greedy, with
// temperature, and with top-p (nucleus) truncation.
package sample
