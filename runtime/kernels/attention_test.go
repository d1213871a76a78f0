package kernels

import (
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// naiveAttention is the float64 reference: one query at a time.
func naiveAttention(qkv []float64, batch, seq, heads, hd int, causal bool) (out, lse []float64) {
	ld := 3 * heads * hd
	out = make([]float64, batch*seq*heads*hd)
	lse = make([]float64, batch*heads*seq)
	for b := range batch {
		for h := range heads {
			for i := range seq {
				q := qkv[(b*seq+i)*ld+h*hd:]
				nk := seq
				if causal {
					nk = i + 1
				}
				s := make([]float64, nk)
				m := math.Inf(-1)
				for j := range nk {
					k := qkv[(b*seq+j)*ld+(heads+h)*hd:]
					for c := range hd {
						s[j] += q[c] * k[c]
					}
					s[j] /= math.Sqrt(float64(hd))
					m = math.Max(m, s[j])
				}
				var sum float64
				for j := range s {
					s[j] = math.Exp(s[j] - m)
					sum += s[j]
				}
				lse[(b*heads+h)*seq+i] = m + math.Log(sum)
				for j := range nk {
					v := qkv[(b*seq+j)*ld+(2*heads+h)*hd:]
					for c := range hd {
						out[(b*seq+i)*heads*hd+h*hd+c] += s[j] / sum * v[c]
					}
				}
			}
		}
	}
	return out, lse
}

type attnCase struct {
	batch, seq, heads, hd int
	causal                bool
}

var attnCases = []attnCase{
	{1, 1, 1, 1, true},
	{2, 5, 2, 3, true},
	{2, 5, 2, 3, false},
	{1, 70, 3, 4, true},
	{2, 130, 2, 8, false},
	{2, 129, 2, 16, true},
	// One head, seq not a multiple of the 64-row block, headDim 1..64.
	{1, 65, 1, 64, true},
	{1, 65, 1, 64, false},
	{1, 100, 1, 1, true},
	{1, 100, 1, 1, false},
	{2, 63, 1, 33, true},
	{1, 191, 1, 7, false},
	{1, 150, 1, 17, true},
	{3, 64, 2, 2, true},
	{3, 40, 3, 8, true}, // 9 heads: whole-head chunks on few cores
	{2, 67, 1, 40, false},
	{1, 20, 1, 300, true}, // head dim past one k block of the micro-kernel
	{1, 300, 1, 4, true},  // keys past one k block
	{1, 270, 1, 3, false},
}

func testAttentionForward[F Float](t *testing.T) {
	r := newRand(12)
	for _, c := range attnCases {
		qkv := randSlice[F](r, c.batch*c.seq*3*c.heads*c.hd)
		for i := range qkv {
			qkv[i] *= 2
		}
		out := make([]F, c.batch*c.seq*c.heads*c.hd)
		lse := make([]F, c.batch*c.heads*c.seq)
		Attention(out, lse, qkv, c.batch, c.seq, c.heads, c.hd, c.causal)
		wo, wl := naiveAttention(to64(qkv), c.batch, c.seq, c.heads, c.hd, c.causal)
		requireClose(t, wo, out, tolFor[F](), fmt.Sprint(c))
		requireClose(t, wl, lse, tolFor[F](), fmt.Sprint(c))
	}
}

func TestAttention(t *testing.T) {
	t.Run("f32", testAttentionForward[float32])
	t.Run("f64", testAttentionForward[float64])
}

// TestAttentionImpls runs the float32 forward and backward on every float32
// GEMM implementation against the float64 reference and gradients.
func TestAttentionImpls(t *testing.T) {
	forEachSgemm(t, func(t *testing.T) {
		r := newRand(18)
		for _, c := range attnCases {
			qkv := randSlice[float64](r, c.batch*c.seq*3*c.heads*c.hd)
			dout := randSlice[float64](r, c.batch*c.seq*c.heads*c.hd)
			wo, wl := naiveAttention(qkv, c.batch, c.seq, c.heads, c.hd, c.causal)
			dw := make([]float64, len(qkv))
			AttentionBackward(dw, dout, qkv, wo, wl, c.batch, c.seq, c.heads, c.hd, c.causal)
			q32, o32, l32 := toF32(qkv), make([]float32, len(wo)), make([]float32, len(wl))
			Attention(o32, l32, q32, c.batch, c.seq, c.heads, c.hd, c.causal)
			requireClose(t, wo, o32, tolFor[float32](), fmt.Sprint(c))
			requireClose(t, wl, l32, tolFor[float32](), fmt.Sprint(c))
			d32 := make([]float32, len(qkv))
			AttentionBackward(d32, toF32(dout), q32, o32, l32, c.batch, c.seq, c.heads, c.hd, c.causal)
			requireClose(t, dw, d32, 1e-3, fmt.Sprint(c))
		}
	})
}

func TestAttentionBackward(t *testing.T) {
	r := newRand(13)
	for _, c := range attnCases {
		t.Run(fmt.Sprint(c), func(t *testing.T) {
			qkv := randSlice[float64](r, c.batch*c.seq*3*c.heads*c.hd)
			out := make([]float64, c.batch*c.seq*c.heads*c.hd)
			lse := make([]float64, c.batch*c.heads*c.seq)
			dout := randSlice[float64](r, len(out))
			loss := func() float64 {
				Attention(out, lse, qkv, c.batch, c.seq, c.heads, c.hd, c.causal)
				return dotLoss(dout, out)
			}
			loss()
			d0 := randSlice[float64](r, len(qkv))
			d := clone(d0)
			AttentionBackward(d, dout, qkv, out, lse, c.batch, c.seq, c.heads, c.hd, c.causal)
			grad := accumulated(d, d0)
			gradCheck(t, "qkv", qkv, loss, grad)

			// float32 agrees with float64.
			q32, o32, l32 := toF32(qkv), make([]float32, len(out)), make([]float32, len(lse))
			Attention(o32, l32, q32, c.batch, c.seq, c.heads, c.hd, c.causal)
			d32 := make([]float32, len(qkv))
			AttentionBackward(d32, toF32(dout), q32, o32, l32, c.batch, c.seq, c.heads, c.hd, c.causal)
			requireClose(t, grad, d32, 1e-3)
		})
	}
}

// TestAttentionCausalFuture checks that with the causal mask a query's
// output and lse do not depend, bit for bit, on later tokens.
func TestAttentionCausalFuture(t *testing.T) {
	const batch, seq, heads, hd = 2, 150, 2, 16
	ld := 3 * heads * hd
	r := newRand(16)
	qkv := randSlice[float32](r, batch*seq*ld)
	out0 := make([]float32, batch*seq*heads*hd)
	lse0 := make([]float32, batch*heads*seq)
	Attention(out0, lse0, qkv, batch, seq, heads, hd, true)
	const cut = 70 // tokens cut.. are changed
	for b := range batch {
		for i := cut; i < seq; i++ {
			for c := range ld {
				qkv[(b*seq+i)*ld+c] = 50 * (2*float32(r.Float64()) - 1)
			}
		}
	}
	out := make([]float32, len(out0))
	lse := make([]float32, len(lse0))
	Attention(out, lse, qkv, batch, seq, heads, hd, true)
	for b := range batch {
		for i := range cut {
			for c := range heads * hd {
				k := (b*seq+i)*heads*hd + c
				require.Equal(t, out0[k], out[k], "b %d token %d col %d", b, i, c)
			}
			for h := range heads {
				k := (b*heads+h)*seq + i
				require.Equal(t, lse0[k], lse[k], "b %d head %d token %d", b, h, i)
			}
		}
	}
}

// TestAttentionProcs checks that results do not depend on GOMAXPROCS.
func TestAttentionProcs(t *testing.T) {
	const batch, seq, heads, hd = 2, 130, 3, 24
	r := newRand(17)
	qkv := randSlice[float32](r, batch*seq*3*heads*hd)
	dout := randSlice[float32](r, batch*seq*heads*hd)
	run := func(procs int) (out, lse, d []float32) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		out = make([]float32, len(dout))
		lse = make([]float32, batch*heads*seq)
		d = make([]float32, len(qkv))
		Attention(out, lse, qkv, batch, seq, heads, hd, true)
		AttentionBackward(d, dout, qkv, out, lse, batch, seq, heads, hd, true)
		return
	}
	o1, l1, d1 := run(1)
	o4, l4, d4 := run(4)
	require.Equal(t, o1, o4)
	require.Equal(t, l1, l4)
	require.Equal(t, d1, d4)
}

func TestAttentionAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	const batch, seq, heads, hd = 2, 128, 2, 16
	r := newRand(14)
	qkv := randSlice[float32](r, batch*seq*3*heads*hd)
	out := make([]float32, batch*seq*heads*hd)
	lse := make([]float32, batch*heads*seq)
	dqkv := make([]float32, len(qkv))
	step := func() {
		Attention(out, lse, qkv, batch, seq, heads, hd, true)
		AttentionBackward(dqkv, out, qkv, out, lse, batch, seq, heads, hd, true)
	}
	step()
	require.LessOrEqual(t, testing.AllocsPerRun(10, step), 0.5)
}

func BenchmarkAttention(b *testing.B) {
	// The reference block: batch 8, seq 256, 4 heads of 64, causal.
	const batch, seq, heads, hd = 8, 256, 4, 64
	r := newRand(15)
	qkv := randSlice[float32](r, batch*seq*3*heads*hd)
	out := make([]float32, batch*seq*heads*hd)
	lse := make([]float32, batch*heads*seq)
	dqkv := make([]float32, len(qkv))
	b.Run("forward", func(b *testing.B) {
		for b.Loop() {
			Attention(out, lse, qkv, batch, seq, heads, hd, true)
		}
	})
	b.Run("backward", func(b *testing.B) {
		for b.Loop() {
			AttentionBackward(dqkv, out, qkv, out, lse, batch, seq, heads, hd, true)
		}
	})
}
