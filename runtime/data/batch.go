package data

import (
	"fmt"

	"github.com/bfcdev/bfc/runtime/tensor"
)

// Batch fills tokens and targets ([batch*seq] each) with batch windows of
// seq bytes starting at random offsets drawn from r; targets[i] is the byte
// after tokens[i]. It panics if the corpus is shorter than seq+1 bytes.
func (c *Corpus) Batch(r *tensor.RNG, batch, seq int, tokens, targets []int32) {
	c.check(batch, seq, tokens, targets)
	for b := range batch {
		c.window(r.Intn(len(c.Data)-seq), b, seq, tokens, targets)
	}
}

// Sequential fills tokens and targets with evaluation batch i: the windows
// i*batch .. i*batch+batch-1 of seq bytes laid end to end from the start of
// the corpus. It reports false, leaving the buffers alone, when the corpus
// has no such full batch.
func (c *Corpus) Sequential(i, batch, seq int, tokens, targets []int32) bool {
	c.check(batch, seq, tokens, targets)
	if i < 0 || i >= c.SequentialBatches(batch, seq) {
		return false
	}
	for b := range batch {
		c.window((i*batch+b)*seq, b, seq, tokens, targets)
	}
	return true
}

// SequentialBatches returns how many batches Sequential can fill.
func (c *Corpus) SequentialBatches(batch, seq int) int {
	if batch <= 0 || seq <= 0 || len(c.Data) < seq+1 {
		return 0
	}
	windows := (len(c.Data) - 1) / seq
	return windows / batch
}

func (c *Corpus) window(off, b, seq int, tokens, targets []int32) {
	src := c.Data[off : off+seq+1]
	tok, tgt := tokens[b*seq:(b+1)*seq], targets[b*seq:(b+1)*seq]
	for s := range tok {
		tok[s] = int32(src[s])
		tgt[s] = int32(src[s+1])
	}
}

func (c *Corpus) check(batch, seq int, tokens, targets []int32) {
	if batch < 0 || seq < 1 || len(tokens) < batch*seq || len(targets) < batch*seq {
		panic(fmt.Sprintf("data: batch %d × seq %d does not fit tokens[%d], targets[%d]", batch, seq, len(tokens), len(targets)))
	}
	if len(c.Data) < seq+1 {
		panic(fmt.Sprintf("data: corpus of %d bytes is shorter than a window of %d+1", len(c.Data), seq))
	}
}
