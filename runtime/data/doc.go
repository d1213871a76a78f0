// Package data builds byte-level training corpora for bfc's language
// models: it finds and collects source files, splits them into training and
// held-out sets by a stable hash of their paths, and cuts batches of windows
// (each target is the next byte).
//
// A Source is what training reads: an in-memory Corpus (Load) or a Stream
// (Open), which memory-maps its files and reads only the windows it is
// asked for, so corpora larger than memory work. RandomBatch draws training
// windows and SpreadBatch evaluation windows from either; on equal bytes
// they give equal batches. runtime/train.Run and the trainer of
// runtime/train/cli (bfc train, examples/charlm) read corpora this way:
// Open, Stream.Split, Stream.Head.
package data
