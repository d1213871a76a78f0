package data

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/bfcdev/bfc/runtime/tensor"
)

// Source is a byte-level corpus that training samples windows from: an
// in-memory *Corpus or a file-backed *Stream.
type Source interface {
	// Size returns the corpus length in bytes.
	Size() int64
	// Window fills tokens with the len(tokens) bytes at offset off and
	// targets with the bytes one further on.
	Window(off int64, tokens, targets []int32) error
}

// Size returns the corpus length in bytes.
func (c *Corpus) Size() int64 { return int64(len(c.Data)) }

// Window fills tokens with the bytes at off and targets with the next ones.
func (c *Corpus) Window(off int64, tokens, targets []int32) error {
	seq := len(tokens)
	if err := checkWindow(c.Size(), off, seq, targets); err != nil {
		return err
	}
	src := c.Data[off : off+int64(seq)+1]
	for s := range tokens {
		tokens[s] = int32(src[s])
		targets[s] = int32(src[s+1])
	}
	return nil
}

func checkWindow(size, off int64, seq int, targets []int32) error {
	if seq < 1 || len(targets) < seq {
		return fmt.Errorf("data: window of %d tokens and %d targets: need at least one token and as many targets", seq, len(targets))
	}
	if off < 0 || off > size-int64(seq)-1 {
		return fmt.Errorf("data: window of %d+1 bytes at offset %d does not fit a corpus of %d bytes", seq, off, size)
	}
	return nil
}

// RandomBatch fills tokens and targets ([batch*seq] each) with batch windows
// of seq bytes at offsets drawn uniformly from r; targets[i] is the byte
// after tokens[i]. For a *Corpus it draws the same windows as Corpus.Batch.
func RandomBatch(src Source, r *tensor.RNG, batch, seq int, tokens, targets []int32) error {
	if err := checkBatch(src, batch, seq, tokens, targets); err != nil {
		return err
	}
	n := src.Size() - int64(seq)
	for b := range batch {
		off := int64n(r, n)
		if err := src.Window(off, tokens[b*seq:(b+1)*seq], targets[b*seq:(b+1)*seq]); err != nil {
			return err
		}
	}
	return nil
}

// SpreadBatch fills tokens and targets with evaluation batch b of batches:
// the batch*batches windows are spread evenly from the start to the end of
// the corpus, so every call with the same arguments reads the same bytes.
func SpreadBatch(src Source, b, batches, batch, seq int, tokens, targets []int32) error {
	if err := checkBatch(src, batch, seq, tokens, targets); err != nil {
		return err
	}
	if b < 0 || b >= batches {
		return fmt.Errorf("data: evaluation batch %d of %d", b, batches)
	}
	windows := int64(batch) * int64(batches)
	span := src.Size() - int64(seq) - 1
	for i := range batch {
		var off int64
		if windows > 1 {
			w := int64(b*batch + i)
			hi, lo := bits.Mul64(uint64(span), uint64(w))
			q, _ := bits.Div64(hi, lo, uint64(windows-1))
			off = int64(q)
		}
		if err := src.Window(off, tokens[i*seq:(i+1)*seq], targets[i*seq:(i+1)*seq]); err != nil {
			return err
		}
	}
	return nil
}

func checkBatch(src Source, batch, seq int, tokens, targets []int32) error {
	if batch < 1 || seq < 1 || len(tokens) < batch*seq || len(targets) < batch*seq {
		return fmt.Errorf("data: batch %d × seq %d does not fit tokens[%d], targets[%d]", batch, seq, len(tokens), len(targets))
	}
	if size := src.Size(); size < int64(seq)+1 {
		return fmt.Errorf("data: corpus of %d bytes is shorter than a window of %d+1", size, seq)
	}
	return nil
}

// int64n returns a uniform value in [0, n), drawing as r.Intn does when n
// fits an int.
func int64n(r *tensor.RNG, n int64) int64 {
	if n <= math.MaxInt {
		return int64(r.Intn(int(n)))
	}
	un := uint64(n)
	hi, lo := bits.Mul64(r.Uint64(), un)
	if lo < un {
		thresh := -un % un
		for lo < thresh {
			hi, lo = bits.Mul64(r.Uint64(), un)
		}
	}
	return int64(hi)
}
