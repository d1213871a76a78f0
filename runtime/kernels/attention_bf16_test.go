package kernels

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// naiveAttentionBF16 is the float64 reference of AttentionBF16 and
// AttentionBackwardBF16: every product operand rounded to bfloat16, the
// rest exact. D uses dout rounded and the out given.
func naiveAttentionBF16(qkv, dout, outF []float64, batch, seq, heads, hd int, causal bool) (out, lse, dqkv []float64) {
	rb := func(v float64) float64 { return float64(RoundBF16(float32(v))) }
	ld, ldo := 3*heads*hd, heads*hd
	out = make([]float64, batch*seq*ldo)
	lse = make([]float64, batch*heads*seq)
	dqkv = make([]float64, len(qkv))
	scale := 1 / math.Sqrt(float64(hd))
	for b := range batch {
		for h := range heads {
			at := func(t, part, c int) int { return (b*seq+t)*ld + (part*heads+h)*hd + c }
			for i := range seq {
				nk := seq
				if causal {
					nk = i + 1
				}
				s := make([]float64, nk)
				m := math.Inf(-1)
				for j := range nk {
					for c := range hd {
						s[j] += rb(qkv[at(i, 0, c)]) * rb(qkv[at(j, 1, c)])
					}
					s[j] *= scale
					m = math.Max(m, s[j])
				}
				var sum float64
				for j := range s {
					s[j] = math.Exp(s[j] - m)
					sum += s[j]
				}
				lse[(b*heads+h)*seq+i] = m + math.Log(sum)
				for j := range s {
					s[j] /= sum
				}
				oi := out[(b*seq+i)*ldo+h*hd:]
				for j := range nk {
					for c := range hd {
						oi[c] += rb(s[j]) * rb(qkv[at(j, 2, c)])
					}
				}
				if dout == nil {
					continue
				}
				do := dout[(b*seq+i)*ldo+h*hd:]
				o := outF[(b*seq+i)*ldo+h*hd:]
				var d float64
				for c := range hd {
					d += rb(do[c]) * o[c]
				}
				for j := range nk {
					var dp float64
					for c := range hd {
						dp += rb(do[c]) * rb(qkv[at(j, 2, c)])
						dqkv[at(j, 2, c)] += rb(s[j]) * rb(do[c])
					}
					ds := rb(s[j] * (dp - d) * scale)
					for c := range hd {
						dqkv[at(i, 0, c)] += ds * rb(qkv[at(j, 1, c)])
						dqkv[at(j, 1, c)] += ds * rb(qkv[at(i, 0, c)])
					}
				}
			}
		}
	}
	return out, lse, dqkv
}

// relErrNorm is ‖got − want‖ / ‖want‖.
func relErrNorm[F Float](want []float64, got []F) float64 {
	var d, n float64
	for i, w := range want {
		e := float64(got[i]) - w
		d += e * e
		n += w * w
	}
	return math.Sqrt(d / n)
}

// TestAttentionBF16 checks bf16 attention, forward and backward, on every
// float32 GEMM implementation against the float64 reference with rounded
// operands (relative error norms under 1e-4 forward, 3e-4 backward: P and
// dS computed in float32 may round to the neighbouring bfloat16 of the
// reference's, dS after the cancellation in dP − D), and that the rounding
// shows: the exact reference is over ten (backward four) times further
// away.
func TestAttentionBF16(t *testing.T) {
	forEachSgemm(t, func(t *testing.T) {
		r := newRand(31)
		for _, c := range attnCases {
			if c.seq*c.hd < 64 {
				continue // too few products for the error norms to speak
			}
			name := fmt.Sprint(c)
			qkv := randSlice[float64](r, c.batch*c.seq*3*c.heads*c.hd)
			for i := range qkv {
				qkv[i] *= 2
			}
			dout := randSlice[float64](r, c.batch*c.seq*c.heads*c.hd)
			q32, o32, l32 := toF32(qkv), make([]float32, len(dout)), make([]float32, c.batch*c.heads*c.seq)
			AttentionBF16(o32, l32, q32, c.batch, c.seq, c.heads, c.hd, c.causal)
			for i, v := range q32 {
				require.Equal(t, RoundBF16(float32(qkv[i])), v, "%s: qkv[%d] not rounded in place", name, i)
			}
			d32, do32 := make([]float32, len(qkv)), toF32(dout)
			AttentionBackwardBF16(d32, do32, q32, o32, l32, c.batch, c.seq, c.heads, c.hd, c.causal)
			require.Equal(t, RoundBF16(do32[0]), do32[0], "dout not rounded in place")
			wo, wl, wd := naiveAttentionBF16(qkv, dout, to64(o32), c.batch, c.seq, c.heads, c.hd, c.causal)
			eo, ed := relErrNorm(wo, o32), relErrNorm(wd, d32)
			require.Less(t, eo, 1e-4, name+" out")
			require.Less(t, relErrNorm(wl, l32), 1e-5, name+" lse")
			require.Less(t, ed, 3e-4, name+" dqkv")
			xo, xl := naiveAttention(qkv, c.batch, c.seq, c.heads, c.hd, c.causal)
			require.Greater(t, relErrNorm(xo, o32), 10*eo, name+": out shows no bfloat16")
			xd := make([]float64, len(qkv))
			AttentionBackward(xd, dout, qkv, xo, xl, c.batch, c.seq, c.heads, c.hd, c.causal)
			require.Greater(t, relErrNorm(xd, d32), 4*ed, name+": dqkv shows no bfloat16")
		}
	})
}

// TestAttentionDecodeBF16 decodes position by position in bf16 precision
// against the bf16 reference of the full causal attention.
func TestAttentionDecodeBF16(t *testing.T) {
	const batch, seq, heads, hd = 2, 40, 2, 16
	w := heads * hd
	r := newRand(33)
	qkv := randSlice[float32](r, batch*seq*3*w)
	want, _, _ := naiveAttentionBF16(to64(qkv), nil, nil, batch, seq, heads, hd, true)
	kc, vc := make([]float32, batch*seq*w), make([]float32, batch*seq*w)
	scores, step, out := make([]float32, seq), make([]float32, batch*3*w), make([]float32, batch*w)
	got := make([]float32, len(want))
	for pos := range seq {
		for b := range batch {
			copy(step[b*3*w:(b+1)*3*w], qkv[(b*seq+pos)*3*w:])
		}
		AttentionDecodeBF16(out, step, kc, vc, scores, batch, seq, pos, heads, hd)
		for b := range batch {
			copy(got[(b*seq+pos)*w:(b*seq+pos+1)*w], out[b*w:(b+1)*w])
		}
	}
	e := relErrNorm(want, got)
	require.Less(t, e, 1e-4)
	exact, _ := naiveAttention(to64(qkv), batch, seq, heads, hd, true)
	require.Greater(t, relErrNorm(exact, got), 10*e, "decode shows no bfloat16")
}
