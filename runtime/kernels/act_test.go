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
