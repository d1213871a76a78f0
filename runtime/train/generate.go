package train

import (
	"errors"
	"fmt"

	"github.com/bfcdev/bfc/runtime/sample"
	"github.com/bfcdev/bfc/runtime/tensor"
)

// StepDecoder is what a generated model's StepDecoder returns: its Decoder,
// which decodes one position of every sequence per Step with a key/value
// cache, after a Prefill of the first positions in one pass.
type StepDecoder = interface {
	Pos() int
	Reset()
	Step(tokens []int32) ([]float32, error)
	Prefill(tokens []int32, seq int) ([]float32, error)
}

// Decoding is implemented by generated models (bfc build) with a decoder.
type Decoding interface {
	StepDecoder(batch int) (StepDecoder, error)
}

// Generate continues prompt by n bytes, sampling from the model's
// next-byte distribution with the given temperature (0: greedy) and top-p.
// It decodes batch copies of the prompt in lockstep, each sampled
// independently, and returns the first: models with expert-choice routing
// by position need a full batch at every step (their decoding policy), and
// dense models may use batch 1.
//
// The context is at most maxSeq bytes, the model's longest sequence: a
// longer prompt keeps its last maxSeq bytes, and when generation fills the
// context it restarts from its last maxSeq/2 bytes. A model with a decoder
// (Decoding) steps one byte at a time and recomputes its cache over those
// bytes when the context restarts; others run Infer over the whole context
// for every byte. A decoder starts each context with one Prefill pass and
// then steps one byte at a time. Both paths see the same contexts, so they
// give the same bytes up to rounding of the logits.
func Generate(m Model, prompt []byte, n, batch, maxSeq int, temperature, topP float64, rng *tensor.RNG) ([]byte, error) {
	if len(prompt) == 0 {
		return nil, errors.New("generate: empty prompt")
	}
	if batch < 1 {
		return nil, fmt.Errorf("generate: batch %d must be at least 1", batch)
	}
	if maxSeq < 1 {
		return nil, fmt.Errorf("generate: maxSeq %d must be at least 1", maxSeq)
	}
	next := inferNext(m, batch)
	if dm, ok := m.(Decoding); ok {
		if d, err := dm.StepDecoder(batch); err == nil {
			next = decodeNext(d, batch)
		}
	}
	outs := make([][]byte, batch)
	for i := range outs {
		outs[i] = append(make([]byte, 0, len(prompt)+n), prompt...)
	}
	start := max(0, len(prompt)-maxSeq)
	for range n {
		rows, err := next(outs, start)
		if err != nil {
			return nil, err
		}
		for j := range outs {
			outs[j] = append(outs[j], byte(sample.Sample(rows[j], temperature, topP, rng)))
		}
		if l := len(outs[0]); l-start > maxSeq {
			start = l - max(1, maxSeq/2)
		}
	}
	return outs[0], nil
}

// nextFunc returns the logits of the byte after outs[j][start:], per
// sequence j.
type nextFunc func(outs [][]byte, start int) ([][]float32, error)

// inferNext runs Infer over the whole context.
func inferNext(m Model, batch int) nextFunc {
	var tokens []int32
	rows := make([][]float32, batch)
	return func(outs [][]byte, start int) ([][]float32, error) {
		ctx := len(outs[0]) - start
		tokens = tokens[:0]
		for _, o := range outs {
			for _, b := range o[start:] {
				tokens = append(tokens, int32(b))
			}
		}
		logits, err := m.Infer(tokens, batch, ctx)
		if err != nil {
			return nil, err
		}
		vocab := len(logits) / len(tokens)
		for j := range rows {
			rows[j] = logits[((j+1)*ctx-1)*vocab : (j+1)*ctx*vocab]
		}
		return rows, nil
	}
}

// decodeNext prefills d with the context when it starts (or its start
// moved) and then steps the bytes it has not seen.
func decodeNext(d StepDecoder, batch int) nextFunc {
	var tokens []int32
	rows := make([][]float32, batch)
	fedFrom := -1
	return func(outs [][]byte, start int) ([][]float32, error) {
		if start != fedFrom || d.Pos() == 0 {
			fedFrom = start
			ctx := len(outs[0]) - start
			tokens = tokens[:0]
			for _, o := range outs {
				for _, b := range o[start:] {
					tokens = append(tokens, int32(b))
				}
			}
			logits, err := d.Prefill(tokens, ctx)
			if err != nil {
				return nil, err
			}
			vocab := len(logits) / len(tokens)
			for j := range rows {
				rows[j] = logits[((j+1)*ctx-1)*vocab : (j+1)*ctx*vocab]
			}
			return rows, nil
		}
		tokens = tokens[:batch]
		var logits []float32
		for p := start + d.Pos(); p < len(outs[0]); p++ {
			for j, o := range outs {
				tokens[j] = int32(o[p])
			}
			var err error
			if logits, err = d.Step(tokens); err != nil {
				return nil, err
			}
		}
		if logits == nil {
			return nil, errors.New("generate: the decoder is ahead of the context")
		}
		vocab := len(logits) / batch
		for j := range rows {
			rows[j] = logits[j*vocab : (j+1)*vocab]
		}
		return rows, nil
	}
}
