// Package data builds byte-level training corpora for bfc's example
// language models: it finds and collects source files, splits them into
// training and held-out sets by a stable hash, and cuts batches of windows
// (each target is the next byte).
package data
