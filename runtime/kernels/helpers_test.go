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

// gradCheck compares grad with central differences of loss with respect to
// x (float64, perturbed in place). At most 200 entries are checked.
func gradCheck(t *testing.T, name string, x []float64, loss func() float64, grad []float64) {
	t.Helper()
	const h = 1e-6
	step := max(1, len(x)/200)
	for i := 0; i < len(x); i += step {
		old := x[i]
		x[i] = old + h
		lp := loss()
		x[i] = old - h
		lm := loss()
		x[i] = old
		num := (lp - lm) / (2 * h)
		if math.Abs(num-grad[i]) > 1e-5*(1+math.Abs(num)) {
			t.Fatalf("%s: d/dx[%d]: analytic %v, numeric %v", name, i, grad[i], num)
		}
	}
}

// dotLoss returns Σ w*y.
func dotLoss(w, y []float64) float64 {
	var s float64
	for i := range w {
		s += w[i] * y[i]
	}
	return s
}

// accumulated returns got-init, checking that a backward kernel added to
// its (nonzero) initial gradient buffer instead of overwriting it.
func accumulated(got, init []float64) []float64 {
	d := make([]float64, len(got))
	for i := range got {
		d[i] = got[i] - init[i]
	}
	return d
}

func clone(x []float64) []float64 { return append([]float64(nil), x...) }
