package optim

import (
	"math"
	"testing"

	"github.com/bfcdev/bfc/runtime/tensor"
	"github.com/stretchr/testify/require"
)

// refAdamW is a scalar reference of one AdamW step at step t (1-based).
func refAdamW(x, g, m, v *float64, t int, lr, b1, b2, eps, wd float64, decay bool) {
	if decay {
		*x -= lr * wd * *x
	}
	*m = b1**m + (1-b1)**g
	*v = b2**v + (1-b2)*(*g)*(*g)
	mhat := *m / (1 - math.Pow(b1, float64(t)))
	vhat := *v / (1 - math.Pow(b2, float64(t)))
	*x -= lr * mhat / (math.Sqrt(vhat) + eps)
}

func testAdamW[F tensor.Float](t *testing.T, tol float64) {
	r := tensor.NewRNG(1)
	params := []tensor.Param[F]{
		tensor.NewParam[F]("w", []int{3, 4}, true),
		tensor.NewParam[F]("g", []int{4}, false),
		// Several parallel pieces, the last one short.
		tensor.NewParam[F]("big", []int{3*adamChunk + 5}, true),
	}
	type ref struct{ x, m, v []float64 }
	refs := make([]ref, len(params))
	for i := range params {
		tensor.InitNormal(params[i].Data, 1, r)
		n := len(params[i].Data)
		refs[i] = ref{make([]float64, n), make([]float64, n), make([]float64, n)}
		for j, x := range params[i].Data {
			refs[i].x[j] = float64(x)
		}
	}
	o := NewAdamW(AdamWConfig{})
	require.Equal(t, 0.9, o.Beta1)
	require.Equal(t, 0.95, o.Beta2)
	require.Equal(t, 1e-8, o.Eps)
	require.Equal(t, 0.1, o.WeightDecay)
	for step := 1; step <= 5; step++ {
		lr := 0.01 * float64(step)
		for i := range params {
			tensor.InitNormal(params[i].Grad, 1, r)
			for j, gv := range params[i].Grad {
				g := float64(gv)
				refAdamW(&refs[i].x[j], &g, &refs[i].m[j], &refs[i].v[j], step, lr, 0.9, 0.95, 1e-8, 0.1, params[i].Decay)
			}
		}
		StepAdamW(o, params, lr)
		for i := range params {
			for j := range params[i].Data {
				require.InDelta(t, refs[i].x[j], float64(params[i].Data[j]), tol, "step %d param %s[%d]", step, params[i].Name, j)
			}
		}
	}
	require.Equal(t, 5, o.T)
	m, _ := Moments[F](o, 0)
	require.InDelta(t, refs[0].m[0], float64(m[0]), tol)
	require.Panics(t, func() { StepAdamW(o, params[:1], 0.1) })
}

func TestAdamW(t *testing.T) {
	t.Run("f64", func(t *testing.T) { testAdamW[float64](t, 1e-12) })
	t.Run("f32", func(t *testing.T) { testAdamW[float32](t, 1e-5) })
}

func TestAdamWConfig(t *testing.T) {
	o := NewAdamW(AdamWConfig{LR: 3e-4, Beta1: 0.8, Beta2: 0.99, Eps: 1e-6, WeightDecay: -1})
	require.Equal(t, AdamW{LR: 3e-4, Beta1: 0.8, Beta2: 0.99, Eps: 1e-6}, *o)
}

func TestClipGradNorm(t *testing.T) {
	p := []tensor.Param[float32]{
		{Name: "a", Grad: []float32{3, 0}},
		{Name: "b", Grad: []float32{4}},
	}
	require.InDelta(t, 5, ClipGradNorm(p, 10), 1e-12)
	require.Equal(t, []float32{3, 0}, p[0].Grad) // under the limit: unchanged
	require.InDelta(t, 5, ClipGradNorm(p, 1), 1e-12)
	require.InDeltaSlice(t, []float32{0.6, 0}, p[0].Grad, 1e-7)
	require.InDeltaSlice(t, []float32{0.8}, p[1].Grad, 1e-7)
	require.InDelta(t, 1, ClipGradNorm(p, 0), 1e-6) // 0: no clipping
	p[1].Grad[0] = float32(math.Inf(1))
	require.True(t, math.IsInf(ClipGradNorm(p, 1), 1))
	require.Equal(t, float32(0.6), p[0].Grad[0])
}

func TestSchedules(t *testing.T) {
	inv := WarmupInvSqrt{Peak: 1e-3, Warmup: 100}
	for _, c := range []struct {
		step int
		want float64
	}{{0, 0}, {1, 1e-5}, {50, 5e-4}, {100, 1e-3}, {400, 5e-4}, {10000, 1e-4}} {
		require.InDelta(t, c.want, inv.LR(c.step), 1e-15, "step %d", c.step)
	}
	require.Equal(t, 2.0, WarmupInvSqrt{Peak: 2}.LR(7))

	cos := WarmupCosine{Peak: 1e-3, Min: 1e-4, Warmup: 10, Total: 110}
	for _, c := range []struct {
		step int
		want float64
	}{
		{0, 0}, {5, 5e-4}, {10, 1e-3},
		{35, 1e-4 + 9e-4*(1+math.Sqrt2/2)/2}, // a quarter of the way: cos(π/4)
		{60, 5.5e-4},                         // half way
		{85, 1e-4 + 9e-4*(1-math.Sqrt2/2)/2},
		{110, 1e-4}, {500, 1e-4},
	} {
		require.InDelta(t, c.want, cos.LR(c.step), 1e-15, "step %d", c.step)
	}
	require.Equal(t, 0.5, Constant(0.5).LR(3))
}
