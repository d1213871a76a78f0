package kernels

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func testAddRMSNorm[F Float](t *testing.T) {
	r := newRand(32)
	for _, s := range [][2]int{{1, 1}, {3, 7}, {64, 256}, {700, 96}} {
		rows, d := s[0], s[1]
		x1, x2, g := randSlice[F](r, rows*d), randSlice[F](r, rows*d), randSlice[F](r, d)
		h, y, rstd := make([]F, rows*d), make([]F, rows*d), make([]F, rows)
		eps := F(1e-5)
		AddRMSNorm(h, y, rstd, x1, x2, g, rows, d, eps)

		wantH, wantY, wantR := make([]float64, rows*d), make([]float64, rows*d), make([]float64, rows)
		for i := range rows {
			var ss float64
			for j := range d {
				v := float64(x1[i*d+j]) + float64(x2[i*d+j])
				wantH[i*d+j] = v
				ss += v * v
			}
			wantR[i] = 1 / math.Sqrt(ss/float64(d)+float64(eps))
			for j := range d {
				wantY[i*d+j] = wantH[i*d+j] * wantR[i] * float64(g[j])
			}
		}
		name := fmt.Sprintf("%dx%d", rows, d)
		requireClose(t, wantH, h, tolFor[F](), name+" h")
		requireClose(t, wantY, y, tolFor[F](), name+" y")
		requireClose(t, wantR, rstd, tolFor[F](), name+" rstd")

		// The same as Add then RMSNorm, and h may alias an input.
		h2, y2, r2 := make([]F, rows*d), make([]F, rows*d), make([]F, rows)
		Add(h2, x1, x2)
		RMSNorm(y2, r2, h2, g, rows, d, eps)
		require.Equal(t, h2, h, name)
		require.Equal(t, y2, y, name)
		require.Equal(t, r2, rstd, name)
		AddRMSNorm(x1, y, rstd, x1, x2, g, rows, d, eps)
		require.Equal(t, h2, x1, name+" aliased")
		require.Equal(t, y2, y, name+" aliased")
	}
}

func TestAddRMSNorm(t *testing.T) {
	t.Run("float32", testAddRMSNorm[float32])
	t.Run("float64", testAddRMSNorm[float64])
}

func TestAddRMSNormPanics(t *testing.T) {
	x := make([]float32, 6)
	require.PanicsWithValue(t, "kernels.AddRMSNorm: len(x2) = 5, need 6", func() {
		AddRMSNorm(x, x, x[:2], x, x[:5], x[:3], 2, 3, 1e-6)
	})
}

// BenchmarkAddRMSNorm compares the fused kernel with Add then RMSNorm at
// the size of the reference block's residual stream (2048 tokens, d 256).
func BenchmarkAddRMSNorm(b *testing.B) {
	r := newRand(33)
	const T, d = 2048, 256
	x1, x2, g := randSlice[float32](r, T*d), randSlice[float32](r, T*d), randSlice[float32](r, d)
	h, y, rstd := make([]float32, T*d), make([]float32, T*d), make([]float32, T)
	b.Run("add+rmsnorm", func(b *testing.B) {
		for b.Loop() {
			Add(h, x1, x2)
			RMSNorm(y, rstd, h, g, T, d, 1e-6)
		}
	})
	b.Run("fused", func(b *testing.B) {
		for b.Loop() {
			AddRMSNorm(h, y, rstd, x1, x2, g, T, d, 1e-6)
		}
	})
}
