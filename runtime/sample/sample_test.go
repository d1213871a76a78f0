package sample

import (
	"math"
	"testing"

	"github.com/bfcdev/bfc/runtime/tensor"
	"github.com/stretchr/testify/require"
)

func TestGreedy(t *testing.T) {
	r := tensor.NewRNG(1)
	require.Equal(t, 1, Sample([]float32{1, 3, 3, 2}, 0, 0.9, r))
	require.Equal(t, 0, Sample([]float64{5}, 0, 0, r))
	nan := float32(math.NaN())
	require.Equal(t, 2, Sample([]float32{nan, -1, 4, nan}, 0, 0, r))
	require.Equal(t, 0, Sample([]float32{-3, -3}, -1, 0, r))
	require.Panics(t, func() { Sample([]float32{}, 1, 1, r) })
}

// frequencies draws n samples and returns the fraction of each index.
func frequencies(logits []float64, temp, topP float64, n int) []float64 {
	r := tensor.NewRNG(7)
	f := make([]float64, len(logits))
	for range n {
		f[Sample(logits, temp, topP, r)]++
	}
	for i := range f {
		f[i] /= float64(n)
	}
	return f
}

func TestTemperature(t *testing.T) {
	logits := []float64{1, 2, 0, -1}
	for _, temp := range []float64{1, 0.5, 2} {
		var z float64
		want := make([]float64, len(logits))
		for i, l := range logits {
			want[i] = math.Exp(l / temp)
			z += want[i]
		}
		got := frequencies(logits, temp, 1, 100000)
		for i := range want {
			require.InDelta(t, want[i]/z, got[i], 0.01, "temp %v index %d", temp, i)
		}
	}
}

func TestTopP(t *testing.T) {
	// Probabilities 0.5, 0.3, 0.15, 0.05 (shuffled positions).
	probs := []float64{0.15, 0.5, 0.05, 0.3}
	logits := make([]float64, len(probs))
	for i, p := range probs {
		logits[i] = math.Log(p)
	}
	got := frequencies(logits, 1, 0.7, 50000) // 0.5+0.3 reaches 0.7
	require.InDelta(t, 0.5/0.8, got[1], 0.01)
	require.InDelta(t, 0.3/0.8, got[3], 0.01)
	require.Zero(t, got[0])
	require.Zero(t, got[2])

	got = frequencies(logits, 1, 0.9, 50000) // needs the third token too
	require.InDelta(t, 0.15/0.95, got[0], 0.01)
	require.Zero(t, got[2])

	got = frequencies(logits, 1, 0.1, 1000) // the top token alone
	require.Equal(t, 1.0, got[1])

	// Determinism for a seed.
	a, b := tensor.NewRNG(3), tensor.NewRNG(3)
	for range 100 {
		require.Equal(t, Sample(logits, 0.8, 0.9, a), Sample(logits, 0.8, 0.9, b))
	}
	// NaN logits are never drawn.
	nanl := []float32{0, float32(math.NaN()), 0}
	for range 100 {
		require.NotEqual(t, 1, Sample(nanl, 1, 0.95, a))
	}
}
