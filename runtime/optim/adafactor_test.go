package optim

import (
	"math"
	"runtime"
	"testing"

	"github.com/bfcdev/bfc/runtime/tensor"
	"github.com/stretchr/testify/require"
)

// refAdafactor is an independent float64 reference of Adafactor for one
// parameter: a batch of r×c matrices, or (r = 0) a vector.
type refAdafactor struct {
	batch, r, c int
	x, m        []float64
	row, col    [][]float64 // per matrix
	v           []float64
	clipped     int // steps where update clipping was active
}

func newRefAdafactor(shape []int, x []float64) *refAdafactor {
	ref := &refAdafactor{x: append([]float64(nil), x...), m: make([]float64, len(x))}
	if len(shape) >= 2 {
		ref.r, ref.c = shape[len(shape)-2], shape[len(shape)-1]
		ref.batch = len(x) / (ref.r * ref.c)
		for k := 0; k < ref.batch; k++ {
			ref.row = append(ref.row, make([]float64, ref.r))
			ref.col = append(ref.col, make([]float64, ref.c))
		}
	} else {
		ref.v = make([]float64, len(x))
	}
	return ref
}

// vhat returns the second-moment estimate for every element after the
// statistics were updated with g at decay beta.
func (ref *refAdafactor) update(g []float64, beta, eps1 float64) []float64 {
	vh := make([]float64, len(g))
	if ref.r == 0 {
		for j := range g {
			ref.v[j] = beta*ref.v[j] + (1-beta)*(g[j]*g[j]+eps1)
			vh[j] = ref.v[j]
		}
		return vh
	}
	r, c := ref.r, ref.c
	for k := 0; k < ref.batch; k++ {
		for i := 0; i < r; i++ {
			s := 0.0
			for j := 0; j < c; j++ {
				gv := g[k*r*c+i*c+j]
				s += gv*gv + eps1
			}
			ref.row[k][i] = beta*ref.row[k][i] + (1-beta)*s
		}
		for j := 0; j < c; j++ {
			s := 0.0
			for i := 0; i < r; i++ {
				gv := g[k*r*c+i*c+j]
				s += gv*gv + eps1
			}
			ref.col[k][j] = beta*ref.col[k][j] + (1-beta)*s
		}
		sumR := 0.0
		for i := 0; i < r; i++ {
			sumR += ref.row[k][i]
		}
		for i := 0; i < r; i++ {
			for j := 0; j < c; j++ {
				vh[k*r*c+i*c+j] = ref.row[k][i] * ref.col[k][j] / sumR
			}
		}
	}
	return vh
}

func (ref *refAdafactor) step(g []float64, t int, lr float64, cfg AdafactorConfig, decay bool) {
	var beta float64
	if cfg.DecayExponent > 0 {
		beta = 1 - math.Pow(float64(t), -cfg.DecayExponent)
	} else {
		b2 := cfg.Beta2
		// Adam's bias correction written as a decay: v_t = Σ_s β2^(t−s) g_s² (1−β2)/(1−β2^t).
		beta = b2 * (1 - math.Pow(b2, float64(t-1))) / (1 - math.Pow(b2, float64(t)))
	}
	vh := ref.update(g, beta, 1e-30)
	n := float64(len(g))
	u := make([]float64, len(g))
	ms := 0.0
	for j := range g {
		u[j] = g[j] / math.Sqrt(vh[j])
		ms += u[j] * u[j] / n
	}
	if d := cfg.ClipThreshold; d > 0 && math.Sqrt(ms)/d > 1 {
		ref.clipped++
		for j := range u {
			u[j] /= math.Sqrt(ms) / d
		}
	}
	alpha := lr
	if cfg.ScaleByParamRMS {
		xs := 0.0
		for _, xv := range ref.x {
			xs += xv * xv / n
		}
		alpha *= math.Max(1e-3, math.Sqrt(xs))
	}
	for j := range ref.x {
		if cfg.Beta1 > 0 {
			ref.m[j] = cfg.Beta1*ref.m[j] + (1-cfg.Beta1)*u[j]
			u[j] = ref.m[j]
		}
		if decay {
			ref.x[j] -= lr * cfg.WeightDecay * ref.x[j]
		}
		ref.x[j] -= alpha * u[j]
	}
}

// runAdafactor runs 6 steps of StepAdafactor[F] against the reference on a
// [3,4] matrix, a [2,3,4] batch of matrices and a [5] vector, with the
// gradients scaled up 20× at step 4 so that update clipping bites. It
// returns the final parameters.
func runAdafactor[F tensor.Float](t *testing.T, cfg AdafactorConfig, tol float64) [][]float64 {
	r := tensor.NewRNG(7)
	params := []tensor.Param[F]{
		tensor.NewParam[F]("w", []int{3, 4}, true),
		tensor.NewParam[F]("experts", []int{2, 3, 4}, true),
		tensor.NewParam[F]("gain", []int{5}, false),
	}
	refs := make([]*refAdafactor, len(params))
	for i := range params {
		x := make([]float64, len(params[i].Data))
		for j := range x {
			x[j] = r.NormFloat64()
			params[i].Data[j] = F(x[j])
			x[j] = float64(params[i].Data[j])
		}
		refs[i] = newRefAdafactor(params[i].Shape, x)
	}
	o := NewAdafactor(cfg)
	refCfg := AdafactorConfig{Beta1: o.Beta1, Beta2: o.Beta2, DecayExponent: o.DecayExponent,
		ClipThreshold: o.ClipThreshold, ScaleByParamRMS: o.ScaleByParamRMS, WeightDecay: o.WeightDecay}
	for step := 1; step <= 6; step++ {
		lr := 0.01 / math.Sqrt(float64(step))
		for i := range params {
			g := make([]float64, len(params[i].Grad))
			for j := range g {
				g[j] = r.NormFloat64() * (1 + float64(j%3))
				if step == 4 {
					g[j] *= 20
				}
				params[i].Grad[j] = F(g[j])
				g[j] = float64(params[i].Grad[j])
			}
			refs[i].step(g, step, lr, refCfg, params[i].Decay)
		}
		StepAdafactor(o, params, lr)
		for i := range params {
			for j, xv := range params[i].Data {
				want := refs[i].x[j]
				require.InDelta(t, want, float64(xv), tol*math.Max(1, math.Abs(want)), "step %d %s[%d]", step, params[i].Name, j)
			}
		}
	}
	require.Equal(t, 6, o.T)
	if o.ClipThreshold > 0 {
		clipped := 0
		for _, ref := range refs {
			clipped += ref.clipped
		}
		require.Positive(t, clipped, "update clipping never active")
	}
	out := make([][]float64, len(params))
	for i := range params {
		for _, xv := range params[i].Data {
			out[i] = append(out[i], float64(xv))
		}
	}
	return out
}

func TestAdafactorDefaults(t *testing.T) {
	o := NewAdafactor(AdafactorConfig{})
	require.Equal(t, 0.0, o.Beta1)
	require.Equal(t, 0.99, o.Beta2)
	require.Equal(t, 0.0, o.DecayExponent)
	require.Equal(t, 1.0, o.ClipThreshold)
	require.Equal(t, 1e-30, o.Eps1)
	require.Equal(t, 1e-3, o.Eps2)
	require.False(t, o.ScaleByParamRMS)
	require.Equal(t, 0.0, o.WeightDecay)
	require.Equal(t, 0.0, NewAdafactor(AdafactorConfig{ClipThreshold: -1}).ClipThreshold)
}

func TestAdafactor(t *testing.T) {
	cfgs := map[string]AdafactorConfig{
		"papers":      {},
		"pow-decay":   {DecayExponent: 0.8},
		"momentum":    {Beta1: 0.9, WeightDecay: 0.1},
		"param-scale": {ScaleByParamRMS: true, WeightDecay: 0.01, DecayExponent: 0.8},
		"no-clip":     {ClipThreshold: -1},
	}
	for name, cfg := range cfgs {
		t.Run(name, func(t *testing.T) {
			x64 := runAdafactor[float64](t, cfg, 1e-6)
			x32 := runAdafactor[float32](t, cfg, 1e-5)
			for i := range x64 {
				for j := range x64[i] {
					require.InDelta(t, x64[i][j], x32[i][j], 1e-5*math.Max(1, math.Abs(x64[i][j])))
				}
			}
		})
	}
}

// TestAdafactorRank1 checks that the factored estimate is exact when g² is
// rank-1: with g_ij² = a_i b_j, V̂ = R Cᵀ / ΣR equals the unfactored average
// of g² (up to eps1) at every step.
func TestAdafactorRank1(t *testing.T) {
	r := tensor.NewRNG(3)
	for trial := 0; trial < 20; trial++ {
		B, rows, cols := 1+trial%3, 1+trial%4, 2+trial%5
		p := []tensor.Param[float64]{tensor.NewParam[float64]("w", []int{B, rows, cols}, false)}
		o := NewAdafactor(AdafactorConfig{DecayExponent: 0.8 * float64(trial%2)})
		exact := make([]float64, B*rows*cols)
		for step := 1; step <= 4; step++ {
			beta := 0.99 * (1 - math.Pow(0.99, float64(step-1))) / (1 - math.Pow(0.99, float64(step)))
			if o.DecayExponent > 0 {
				beta = 1 - math.Pow(float64(step), -0.8)
			}
			for k := 0; k < B; k++ {
				// g² rank-1 in every step, with the same row and column
				// profile across steps up to a step-wide factor s, so the
				// running average stays rank-1.
				s := 0.5 + r.Float64()
				for i := 0; i < rows; i++ {
					for j := 0; j < cols; j++ {
						a, b := float64(i+1), 1+0.5*float64(j)
						sign := 1.0
						if r.Float64() < 0.5 {
							sign = -1
						}
						idx := (k*rows+i)*cols + j
						p[0].Grad[idx] = sign * math.Sqrt(s*a*b)
						exact[idx] = beta*exact[idx] + (1-beta)*s*a*b
					}
				}
			}
			StepAdafactor(o, p, 0)
			row, col, vec := o.SecondMoments(0)
			require.Nil(t, vec)
			for k := 0; k < B; k++ {
				var sumR float64
				for i := 0; i < rows; i++ {
					sumR += row[k*rows+i]
				}
				for i := 0; i < rows; i++ {
					for j := 0; j < cols; j++ {
						got := row[k*rows+i] * col[k*cols+j] / sumR
						want := exact[(k*rows+i)*cols+j]
						require.InDelta(t, want, got, 1e-12*want, "trial %d step %d [%d,%d,%d]", trial, step, k, i, j)
					}
				}
			}
		}
	}
}

func TestAdafactorNoAllocs(t *testing.T) {
	for _, b1 := range []float64{0, 0.9} {
		params := []tensor.Param[float32]{
			tensor.NewParam[float32]("w", []int{2, 8, 16}, true),
			tensor.NewParam[float32]("b", []int{16}, false),
		}
		for i := range params {
			tensor.InitNormal(params[i].Grad, 1, tensor.NewRNG(1))
		}
		o := NewAdafactor(AdafactorConfig{Beta1: b1, ScaleByParamRMS: true, WeightDecay: 0.1})
		StepAdafactor(o, params, 0.01)
		require.Zero(t, testing.AllocsPerRun(10, func() { StepAdafactor(o, params, 0.01) }))
		require.Equal(t, b1 > 0, AdafactorFirstMoment[float32](o, 0) != nil)
		require.Panics(t, func() { StepAdafactor(o, params[:1], 0.1) })
	}
}

// BenchmarkAdafactor times one step on a 512×2048 float32 matrix next to
// AdamW on the same parameter.
func BenchmarkAdafactor(b *testing.B) {
	p := []tensor.Param[float32]{tensor.NewParam[float32]("w", []int{512, 2048}, true)}
	tensor.InitNormal(p[0].Grad, 1, tensor.NewRNG(1))
	b.Run("adafactor", func(b *testing.B) {
		o := NewAdafactor(AdafactorConfig{})
		for b.Loop() {
			StepAdafactor(o, p, 1e-3)
		}
	})
	b.Run("adamw", func(b *testing.B) {
		o := NewAdamW(AdamWConfig{})
		for b.Loop() {
			StepAdamW(o, p, 1e-3)
		}
	})
}

// TestAdafactorCores checks that a step updates parameters in parallel
// with the results of one core, bit for bit.
func TestAdafactorCores(t *testing.T) {
	var got [][]float32
	for _, procs := range []int{1, 4} {
		old := runtime.GOMAXPROCS(procs)
		params := []tensor.Param[float32]{
			tensor.NewParam[float32]("experts", []int{4, 64, 48}, true),
			tensor.NewParam[float32]("w", []int{96, 80}, true),
			tensor.NewParam[float32]("gain", []int{300}, false),
		}
		r := tensor.NewRNG(3)
		for i := range params {
			tensor.InitNormal(params[i].Data, 1, r)
		}
		o := NewAdafactor(AdafactorConfig{Beta1: 0.9, ScaleByParamRMS: true, WeightDecay: 0.1})
		for range 4 {
			for i := range params {
				tensor.InitNormal(params[i].Grad, 1, r)
			}
			StepAdafactor(o, params, 0.01)
		}
		runtime.GOMAXPROCS(old)
		var all []float32
		for _, p := range params {
			all = append(all, p.Data...)
		}
		got = append(got, all)
	}
	require.Equal(t, got[0], got[1])
}
