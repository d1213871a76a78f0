package kernels

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

var allActs = []Act{ActReLU, ActGELU, ActGELUTanh, ActSqReLU, ActSiLU}

// refAct is an independent float64 reference for each activation.
func refAct(a Act, x float64) float64 {
	switch a {
	case ActReLU:
		return math.Max(x, 0)
	case ActGELU:
		return x * 0.5 * math.Erfc(-x/math.Sqrt2)
	case ActGELUTanh:
		return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*math.Pow(x, 3))))
	case ActSqReLU:
		return math.Pow(math.Max(x, 0), 2)
	case ActSiLU:
		return x * (1 / (1 + math.Exp(-x)))
	}
	panic("unknown act")
}

func TestActNames(t *testing.T) {
	want := []string{"relu", "gelu", "gelu_tanh", "sqrelu", "silu"}
	for i, a := range allActs {
		require.Equal(t, want[i], a.String())
		p, ok := ParseAct(want[i])
		require.True(t, ok)
		require.Equal(t, a, p)
	}
	_, ok := ParseAct("tanh")
	require.False(t, ok)
	require.Equal(t, "Act(99)", Act(99).String())
}

// actInputs avoids 0, where ReLU-like activations have no derivative.
func actInputs(n int) []float64 {
	r := newRand(9)
	x := make([]float64, n)
	for i := range x {
		x[i] = 6*r.Float64() - 3
		if math.Abs(x[i]) < 1e-3 {
			x[i] = 0.5
		}
	}
	return x
}

func TestActivate(t *testing.T) {
	for _, a := range allActs {
		x := actInputs(50)
		want := make([]float64, len(x))
		for i, v := range x {
			want[i] = refAct(a, v)
		}
		y := make([]float64, len(x))
		Activate(a, y, x)
		requireClose(t, want, y, 1e-12, a.String())
		y32 := make([]float32, len(x))
		Activate(a, y32, toF32(x))
		requireClose(t, want, y32, 1e-5, a.String())

		dy := actInputs(50)
		dx0 := actInputs(50)
		dx := clone(dx0)
		ActivateBackward(a, dx, dy, x)
		gradCheck(t, a.String(), x, func() float64 {
			Activate(a, y, x)
			return dotLoss(dy, y)
		}, accumulated(dx, dx0))
	}
}

func TestGLU(t *testing.T) {
	const rows, hidden = 3, 5
	for _, a := range allActs {
		x := actInputs(rows * 2 * hidden)
		y := make([]float64, rows*hidden)
		GLU(a, y, x, rows, hidden)
		for r := range rows {
			for j := range hidden {
				want := refAct(a, x[r*2*hidden+j]) * x[r*2*hidden+hidden+j]
				require.InDelta(t, want, y[r*hidden+j], 1e-12)
			}
		}
		dy := actInputs(rows * hidden)
		dx0 := actInputs(len(x))
		dx := clone(dx0)
		GLUBackward(a, dx, dy, x, rows, hidden)
		gradCheck(t, "glu "+a.String(), x, func() float64 {
			GLU(a, y, x, rows, hidden)
			return dotLoss(dy, y)
		}, accumulated(dx, dx0))
	}
}

// TestActFloat32 checks the float32 paths (vector kernels where the CPU has
// them) of every activation kernel against the float64 ones, on sizes that
// leave vector tails and split rows across chunks.
func TestActFloat32(t *testing.T) {
	const rows, hidden = 7, 37
	for _, a := range allActs {
		x := actInputs(rows * 2 * hidden)
		dy := actInputs(len(x))
		dx0 := actInputs(len(x))
		n := len(x)

		y64, y32 := make([]float64, n), make([]float32, n)
		Activate(a, y64, x)
		Activate(a, y32, toF32(x))
		requireClose(t, y64, y32, 1e-5, "Activate", a.String())

		dx64, dx32 := clone(dx0), toF32(dx0)
		ActivateBackward(a, dx64, dy, x)
		ActivateBackward(a, dx32, toF32(dy), toF32(x))
		requireClose(t, dx64, dx32, 1e-5, "ActivateBackward", a.String())

		g64, g32 := make([]float64, rows*hidden), make([]float32, rows*hidden)
		GLU(a, g64, x, rows, hidden)
		GLU(a, g32, toF32(x), rows, hidden)
		requireClose(t, g64, g32, 1e-5, "GLU", a.String())

		gdx64, gdx32 := clone(dx0), toF32(dx0)
		GLUBackward(a, gdx64, dy[:rows*hidden], x, rows, hidden)
		GLUBackward(a, gdx32, toF32(dy[:rows*hidden]), toF32(x), rows, hidden)
		requireClose(t, gdx64, gdx32, 1e-5, "GLUBackward", a.String())
	}
}
