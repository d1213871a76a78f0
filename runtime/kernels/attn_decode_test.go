package kernels

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAttentionDecode feeds random sequences one position at a time and
// compares every position's output with the naive causal attention over
// the whole sequence, and the caches with the k and v columns of qkv.
func TestAttentionDecode(t *testing.T) {
	t.Run("float64", func(t *testing.T) { testAttentionDecode[float64](t) })
	t.Run("float32", func(t *testing.T) { testAttentionDecode[float32](t) })
}

func testAttentionDecode[F Float](t *testing.T) {
	for _, c := range []struct{ batch, seq, maxSeq, heads, hd int }{
		{1, 1, 1, 1, 1}, {2, 5, 7, 2, 3}, {3, 70, 70, 4, 8}, {1, 9, 16, 1, 16},
	} {
		t.Run(fmt.Sprintf("%+v", c), func(t *testing.T) {
			r := newRand(uint64(c.seq))
			w := c.heads * c.hd
			qkv := randSlice[F](r, c.batch*c.seq*3*w)
			want, _ := naiveAttention(to64(qkv), c.batch, c.seq, c.heads, c.hd, true)
			kc, vc := make([]F, c.batch*c.maxSeq*w), make([]F, c.batch*c.maxSeq*w)
			scores := make([]F, c.maxSeq)
			step, out := make([]F, c.batch*3*w), make([]F, c.batch*w)
			wantRow := make([]float64, c.batch*w)
			for pos := range c.seq {
				for b := range c.batch {
					copy(step[b*3*w:(b+1)*3*w], qkv[(b*c.seq+pos)*3*w:])
					copy(wantRow[b*w:(b+1)*w], want[(b*c.seq+pos)*w:])
				}
				AttentionDecode(out, step, kc, vc, scores, c.batch, c.maxSeq, pos, c.heads, c.hd)
				requireClose(t, wantRow, out, tolFor[F](), "position %d", pos)
			}
			for b := range c.batch {
				for pos := range c.seq {
					row := qkv[(b*c.seq+pos)*3*w:]
					at := (b*c.maxSeq + pos) * w
					require.Equal(t, row[w:2*w], kc[at:at+w], "k of sequence %d position %d", b, pos)
					require.Equal(t, row[2*w:3*w], vc[at:at+w], "v of sequence %d position %d", b, pos)
				}
			}
		})
	}
}

// TestAttentionDecodeMatchesAttention: the last row of a causal Attention
// over positions 0..pos, as the generated decoder relies on.
func TestAttentionDecodeMatchesAttention(t *testing.T) {
	const batch, seq, heads, hd = 2, 37, 3, 16
	w := heads * hd
	r := newRand(5)
	qkv := randSlice[float32](r, batch*seq*3*w)
	full, lse := make([]float32, batch*seq*w), make([]float32, batch*heads*seq)
	Attention(full, lse, qkv, batch, seq, heads, hd, true)
	kc, vc := make([]float32, batch*seq*w), make([]float32, batch*seq*w)
	scores := make([]float32, seq)
	step, out := make([]float32, batch*3*w), make([]float32, batch*w)
	for pos := range seq {
		var want []float64
		for b := range batch {
			copy(step[b*3*w:(b+1)*3*w], qkv[(b*seq+pos)*3*w:])
			want = append(want, to64(full[(b*seq+pos)*w:(b*seq+pos+1)*w])...)
		}
		AttentionDecode(out, step, kc, vc, scores, batch, seq, pos, heads, hd)
		requireClose(t, want, out, 1e-5, "position %d", pos)
	}
}

func TestAttentionDecodeBadArgs(t *testing.T) {
	out, qkv := make([]float64, 4), make([]float64, 12)
	kc, vc, s := make([]float64, 8), make([]float64, 8), make([]float64, 2)
	require.Panics(t, func() { AttentionDecode(out, qkv, kc, vc, s, 1, 2, 2, 1, 4) }, "pos past maxSeq")
	require.Panics(t, func() { AttentionDecode(out, qkv, kc, vc, s[:1], 1, 2, 1, 1, 4) }, "short scores")
	require.Panics(t, func() { AttentionDecode(out, qkv[:11], kc, vc, s, 1, 2, 1, 1, 4) }, "short qkv")
	require.NotPanics(t, func() { AttentionDecode(out, qkv, kc, vc, s, 1, 2, 1, 1, 4) })
}

func TestAttentionDecodeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	out, qkv := make([]float32, 8), make([]float32, 24)
	kc, vc, s := make([]float32, 64), make([]float32, 64), make([]float32, 8)
	if n := testing.AllocsPerRun(10, func() { AttentionDecode(out, qkv, kc, vc, s, 1, 8, 7, 2, 4) }); n != 0 {
		t.Errorf("%v allocations, want 0", n)
	}
}

// TestAttentionCache: the caches AttentionCache fills equal those seq
// AttentionDecode steps leave.
func TestAttentionCache(t *testing.T) {
	const batch, seq, maxSeq, heads, hd = 3, 6, 9, 2, 5
	w := heads * hd
	r := newRand(8)
	qkv := randSlice[float64](r, batch*seq*3*w)
	k1, v1 := make([]float64, batch*maxSeq*w), make([]float64, batch*maxSeq*w)
	k2, v2 := make([]float64, batch*maxSeq*w), make([]float64, batch*maxSeq*w)
	AttentionCache(k1, v1, qkv, batch, seq, maxSeq, heads, hd)
	step, out, s := make([]float64, batch*3*w), make([]float64, batch*w), make([]float64, maxSeq)
	for pos := range seq {
		for b := range batch {
			copy(step[b*3*w:(b+1)*3*w], qkv[(b*seq+pos)*3*w:])
		}
		AttentionDecode(out, step, k2, v2, s, batch, maxSeq, pos, heads, hd)
	}
	require.Equal(t, k2, k1)
	require.Equal(t, v2, v1)
	require.Panics(t, func() { AttentionCache(k1, v1, qkv, batch, maxSeq+1, maxSeq, heads, hd) })
}
