package tensor

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRNGMatchesStdPCG checks the stream against math/rand/v2's PCG, which
// implements the same generator.
func TestRNGMatchesStdPCG(t *testing.T) {
	r := NewRNG(42)
	st := r.State()
	ref := rand.NewPCG(st[0], st[1])
	for range 1000 {
		require.Equal(t, ref.Uint64(), r.Uint64())
	}
}

func TestRNGDeterminism(t *testing.T) {
	a, b := NewRNG(7), NewRNG(7)
	for range 100 {
		require.Equal(t, a.Uint64(), b.Uint64())
	}
	c := NewRNG(8)
	require.NotEqual(t, a.Uint64(), c.Uint64())

	// State round trip.
	s := a.State()
	x := []float64{a.Float64(), a.NormFloat64(), float64(a.Intn(10))}
	a2 := NewRNG(0)
	a2.SetState(s)
	require.Equal(t, x, []float64{a2.Float64(), a2.NormFloat64(), float64(a2.Intn(10))})
}

func TestRNGDistributions(t *testing.T) {
	r := NewRNG(1)
	const n = 200000
	var s, s2 float64
	for range n {
		v := r.NormFloat64()
		s += v
		s2 += v * v
	}
	require.InDelta(t, 0, s/n, 0.01)
	require.InDelta(t, 1, s2/n, 0.02)

	var u float64
	for range n {
		v := r.Float64()
		require.True(t, v >= 0 && v < 1)
		u += v
	}
	require.InDelta(t, 0.5, u/n, 0.005)

	counts := make([]int, 7)
	for range n {
		counts[r.Intn(7)]++
	}
	for _, c := range counts {
		require.InDelta(t, n/7, c, 0.03*n/7)
	}
	require.Panics(t, func() { r.Intn(0) })
	p := r.Perm(10)
	seen := make([]bool, 10)
	for _, v := range p {
		seen[v] = true
	}
	for _, ok := range seen {
		require.True(t, ok)
	}
}

func TestInitAndNumel(t *testing.T) {
	require.Equal(t, 1, Numel(nil))
	require.Equal(t, 24, Numel([]int{2, 3, 4}))
	require.Equal(t, 0, Numel([]int{2, 0}))
	require.Panics(t, func() { Numel([]int{-1}) })

	p := NewParam[float32]("w", []int{100, 50}, true)
	require.Len(t, p.Data, 5000)
	require.Len(t, p.Grad, 5000)
	InitNormal(p.Data, 0.02, NewRNG(3))
	var s2 float64
	for _, v := range p.Data {
		s2 += float64(v) * float64(v)
	}
	require.InDelta(t, 0.02, math.Sqrt(s2/5000), 0.001)
	InitOnes(p.Grad)
	require.Equal(t, float32(1), p.Grad[4999])
	ZeroGrads([]Param[float32]{p})
	require.Equal(t, float32(0), p.Grad[4999])
	InitZeros(p.Data)
	require.Equal(t, float32(0), p.Data[0])
	InitUniform(p.Data, -1, 1, NewRNG(4))
	for _, v := range p.Data {
		require.True(t, v >= -1 && v < 1)
	}
}
