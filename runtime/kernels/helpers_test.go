package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// randSlice returns n values uniform in [-1, 1).
func randSlice[F Float](r *rand.Rand, n int) []F {
	x := make([]F, n)
	for i := range x {
		x[i] = F(2*r.Float64() - 1)
	}
	return x
}

func to64[F Float](x []F) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// requireClose checks |got-want| <= tol*(1+|want|) element-wise.
func requireClose[F Float](t testing.TB, want []float64, got []F, tol float64, msgAndArgs ...any) {
	t.Helper()
	require.Equal(t, len(want), len(got), msgAndArgs...)
	for i := range want {
		g := float64(got[i])
		if math.IsNaN(g) || math.Abs(g-want[i]) > tol*(1+math.Abs(want[i])) {
			require.Failf(t, "mismatch", "index %d: got %v want %v (tol %g) %v", i, g, want[i], tol, msgAndArgs)
		}
	}
}

// tolFor is a comparison tolerance suited to F.
func tolFor[F Float]() float64 {
	if is32[F]() {
		return 2e-4
	}
	return 1e-10
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 99)) }
