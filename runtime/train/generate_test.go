package train

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/bfcdev/bfc/runtime/tensor"
)

// ctxModel scores the byte after a context by a hash of the whole context
// (its bytes and their positions), so any difference in the contexts the
// two paths of Generate see changes the output. With a decoder it also
// implements Decoding.
type ctxModel struct {
	*bigram
	maxSeq   int
	steps    int // decoder steps, all decoders together
	prefills int
}

// hashNext is the byte ctxModel favours after ctx.
func hashNext(ctx []int32) int {
	h := 7
	for i, t := range ctx {
		h = (h*31 + int(t)*(i+1)) % 251
	}
	return h
}

func peak(row []float32, at int) {
	clear(row)
	row[at] = 4
	row[(at+1)%256] = 3
	row[(at+2)%256] = 2
}

func (m *ctxModel) Infer(tokens []int32, batch, seq int) ([]float32, error) {
	if seq > m.maxSeq || len(tokens) != batch*seq {
		return nil, fmt.Errorf("bad shape %d×%d", batch, seq)
	}
	out := make([]float32, len(tokens)*256)
	for b := range batch {
		for s := range seq {
			r := b*seq + s
			peak(out[r*256:(r+1)*256], hashNext(tokens[b*seq:r+1]))
		}
	}
	return out, nil
}

type ctxDecoder struct {
	m      *ctxModel
	ctx    [][]int32
	logits []float32
}

func (m *ctxModel) StepDecoder(batch int) (StepDecoder, error) {
	return &ctxDecoder{m: m, ctx: make([][]int32, batch), logits: make([]float32, batch*256)}, nil
}

func (d *ctxDecoder) Pos() int { return len(d.ctx[0]) }
func (d *ctxDecoder) Reset() {
	for i := range d.ctx {
		d.ctx[i] = d.ctx[i][:0]
	}
}

func (d *ctxDecoder) Step(tokens []int32) ([]float32, error) {
	if len(d.ctx[0]) >= d.m.maxSeq {
		return nil, fmt.Errorf("decoder full")
	}
	d.m.steps++
	for b, t := range tokens {
		d.ctx[b] = append(d.ctx[b], t)
		peak(d.logits[b*256:(b+1)*256], hashNext(d.ctx[b]))
	}
	return d.logits, nil
}

func (d *ctxDecoder) Prefill(tokens []int32, seq int) ([]float32, error) {
	batch := len(d.ctx)
	if len(tokens) != batch*seq {
		return nil, fmt.Errorf("bad shape")
	}
	d.Reset()
	d.m.prefills++
	out := make([]float32, len(tokens)*256)
	for b := range batch {
		for s := range seq {
			d.ctx[b] = append(d.ctx[b], tokens[b*seq+s])
			r := b*seq + s
			peak(out[r*256:(r+1)*256], hashNext(d.ctx[b]))
		}
	}
	return out, nil
}

// TestGenerateDecoderMatchesInfer: Generate gives the same bytes through a
// decoder as recomputing every context, with prompts shorter and longer
// than the context and generation that restarts it several times, and a
// decoder costs a step per byte and a prefill per restart.
func TestGenerateDecoderMatchesInfer(t *testing.T) {
	for _, c := range []struct {
		prompt     string
		n, maxSeq  int
		batch      int
		temp, topP float64
	}{
		{"a", 40, 8, 1, 0, 1},
		{"hello", 100, 16, 3, 1, 0.9},
		{"a prompt longer than the context", 50, 9, 2, 0.7, 1},
		{"xy", 20, 1, 1, 1, 1},
	} {
		m := &ctxModel{bigram: newBigram(), maxSeq: c.maxSeq}
		got, err := Generate(m, []byte(c.prompt), c.n, c.batch, c.maxSeq, c.temp, c.topP, tensor.NewRNG(3))
		if err != nil {
			t.Fatal(err)
		}
		want, err := Generate(struct{ Model }{m}, []byte(c.prompt), c.n, c.batch, c.maxSeq, c.temp, c.topP, tensor.NewRNG(3))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%+v: decoded %q, recomputed %q", c, got, want)
		}
		if len(got) != len(c.prompt)+c.n {
			t.Errorf("%+v: %d bytes", c, len(got))
		}
		if m.steps+m.prefills != c.n {
			t.Errorf("%+v: %d steps and %d prefills for %d bytes", c, m.steps, m.prefills, c.n)
		}
		if restarts := c.n / max(1, c.maxSeq-c.maxSeq/2); m.prefills > restarts+2 {
			t.Errorf("%+v: %d prefills, want at most %d", c, m.prefills, restarts+2)
		}
	}
	if _, err := Generate(newBigram(), []byte("a"), 1, 1, 0, 0, 1, tensor.NewRNG(1)); err == nil {
		t.Error("Generate accepted maxSeq 0")
	}
}
