package kernels

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func naiveSoftmax(x []float64) []float64 {
	var s float64
	for _, v := range x {
		s += math.Exp(v)
	}
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = math.Exp(v) / s
	}
	return y
}

func TestSoftmax(t *testing.T) {
	r := newRand(10)
	const rows, n = 4, 9
	x := randSlice[float64](r, rows*n)
	y := make([]float32, rows*n)
	Softmax(y, toF32(x), rows, n)
	for i := range rows {
		requireClose(t, naiveSoftmax(x[i*n:i*n+n]), y[i*n:i*n+n], 1e-6)
	}
	// Stability: large logits do not overflow.
	big := []float32{1000, 1001, 999}
	Softmax(big, big, 1, 3)
	requireClose(t, naiveSoftmax([]float64{1, 2, 0}), big, 1e-6)
}

func TestCrossEntropy(t *testing.T) {
	r := newRand(11)
	const rows, vocab = 6, 7
	logits := randSlice[float64](r, rows*vocab)
	for i := range logits {
		logits[i] *= 4
	}
	targets := []int32{3, -1, 0, 6, -100, 2}
	lse := make([]float64, rows)
	loss := CrossEntropy(lse, logits, targets, rows, vocab)
	var want float64
	for i := range rows {
		var s float64
		for j := range vocab {
			s += math.Exp(logits[i*vocab+j])
		}
		require.InDelta(t, math.Log(s), lse[i], 1e-12)
		if targets[i] >= 0 {
			want -= math.Log(math.Exp(logits[i*vocab+int(targets[i])]) / s)
		}
	}
	require.InDelta(t, want/4, loss, 1e-12)

	lse32 := make([]float32, rows)
	loss32 := CrossEntropy(lse32, toF32(logits), targets, rows, vocab)
	require.InDelta(t, want/4, loss32, 1e-5)

	const scale = 0.75
	d0 := randSlice[float64](r, rows*vocab)
	d := clone(d0)
	CrossEntropyBackward(d, logits, lse, targets, rows, vocab, scale)
	g := accumulated(d, d0)
	for j := range vocab { // ignored rows get nothing
		require.Zero(t, g[1*vocab+j])
		require.Zero(t, g[4*vocab+j])
	}
	gradCheck(t, "logits", logits, func() float64 {
		return scale * CrossEntropy(lse, logits, targets, rows, vocab)
	}, g)

	// No counted rows.
	require.Zero(t, CrossEntropy(lse, logits[:vocab], []int32{-1}, 1, vocab))
	require.Panics(t, func() { CrossEntropy(lse, logits, []int32{7, 0, 0, 0, 0, 0}, rows, vocab) })
}

// TestSoftmaxFloat32Wide runs the float32 paths (vector exp where the CPU
// has it) on rows wider than their 256-element scratch buffers and with
// vector tails, against float64 references.
func TestSoftmaxFloat32Wide(t *testing.T) {
	r := newRand(12)
	const rows, n = 5, 301
	x := randSlice[float64](r, rows*n)
	for i := range x {
		x[i] *= 6
	}
	x32 := toF32(x)
	x = to64(x32) // references see the same rounded inputs
	y := make([]float32, rows*n)
	Softmax(y, x32, rows, n)
	for i := range rows {
		requireClose(t, naiveSoftmax(x[i*n:i*n+n]), y[i*n:i*n+n], 1e-6)
	}

	targets := []int32{0, 300, -1, 17, 255}
	lse64, lse32 := make([]float64, rows), make([]float32, rows)
	loss64 := CrossEntropy(lse64, x, targets, rows, n)
	loss32 := CrossEntropy(lse32, x32, targets, rows, n)
	for i := range rows {
		var s float64
		for _, v := range x[i*n : i*n+n] {
			s += math.Exp(v)
		}
		require.InDelta(t, math.Log(s), float64(lse32[i]), 1e-6*(1+math.Log(s)))
	}
	require.InDelta(t, loss64, loss32, 1e-5)

	d0 := randSlice[float64](r, rows*n)
	d64, d32 := clone(d0), toF32(d0)
	CrossEntropyBackward(d64, x, lse64, targets, rows, n, 0.5)
	CrossEntropyBackward(d32, x32, lse32, targets, rows, n, 0.5)
	requireClose(t, d64, d32, 1e-6)
}

// TestSoftmaxRow checks SoftmaxRow's probabilities and log-sum-exp
// against float64 math, in float32 (vector exp) and float64, in place too.
func TestSoftmaxRow(t *testing.T) {
	r := newRand(21)
	for _, n := range []int{1, 2, 7, 16, 33, 64} {
		x := randSlice[float64](r, n)
		for i := range x {
			x[i] *= 8
		}
		m := math.Inf(-1)
		for _, v := range x {
			m = max(m, v)
		}
		var s float64
		for _, v := range x {
			s += math.Exp(v - m)
		}
		lse := m + math.Log(s)
		y64 := make([]float64, n)
		require.Equal(t, lse, SoftmaxRow(y64, x), "float64 lse n=%d", n)
		x32 := make([]float32, n)
		for i, v := range x {
			x32[i] = float32(v)
		}
		y32 := make([]float32, n)
		lse32 := SoftmaxRow(y32, x32)
		require.InDelta(t, lse, lse32, 1e-6*(1+math.Abs(lse)), "float32 lse n=%d", n)
		for i, v := range x {
			p := math.Exp(v - lse)
			require.InDelta(t, p, y64[i], 1e-15, "float64 n=%d i=%d", n, i)
			require.InDelta(t, p, float64(y32[i]), 1e-6*p+1e-30, "float32 n=%d i=%d", n, i)
		}
		SoftmaxRow(x32, x32) // in place
		require.Equal(t, y32, x32)
	}
	require.Panics(t, func() { SoftmaxRow(make([]float32, 3), make([]float32, 2)) })
}
