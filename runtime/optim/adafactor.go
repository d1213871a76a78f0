package optim

import (
	"fmt"
	"math"

	"github.com/bfcdev/bfc/runtime/kernels"
	"github.com/bfcdev/bfc/runtime/tensor"
)

// AdafactorConfig configures NewAdafactor. Zero fields take the defaults of
// the Brainformer/GLaM training setup (brainformer.md §6): no first moment
// (β1 = 0), β2 = 0.99, update clipping threshold d = 1, eps1 = 1e-30,
// eps2 = 1e-3, no parameter scaling and no weight decay.
type AdafactorConfig struct {
	// Beta1 > 0 keeps a first moment of the clipped update; 0 (the
	// papers' setting) keeps none.
	Beta1 float64
	// Beta2 in (0, 1) is the second-moment decay when DecayExponent is
	// 0 (default 0.99), applied with Adam's bias correction.
	Beta2 float64
	// DecayExponent c > 0 selects the step-dependent decay
	// β2(t) = 1 − t^(−c) instead of Beta2 (GLaM: c = 0.8).
	DecayExponent float64
	// ClipThreshold is d in the update clipping u / max(1, RMS(u)/d)
	// (default 1); negative disables clipping.
	ClipThreshold float64
	// Eps1 regularises the squared gradient (default 1e-30).
	Eps1 float64
	// Eps2 is the lower bound of the parameter scale (default 1e-3).
	Eps2 float64
	// ScaleByParamRMS multiplies the step by max(Eps2, RMS(x)) (the
	// paper's relative step size); off by default.
	ScaleByParamRMS bool
	// WeightDecay is the decoupled weight decay for Param.Decay
	// parameters; 0 (default) means none.
	WeightDecay float64
}

// Adafactor is the Adafactor optimizer (Shazeer & Stern, 2018) as
// Brainformer, Expert Choice and GLaM trained: factored second moments,
// β1 = 0, β2 = 0.99 and update clipping at 1.
//
// At step t (1-based), for each parameter X with gradient G:
//
//	β̂ = β2·(1 − β2^(t−1)) / (1 − β2^t)    (fixed β2, bias-corrected; 0 at t = 1)
//	β̂ = 1 − t^(−c)                        (with DecayExponent c)
//
// A parameter of 2 or more dimensions [..., r, c] is a batch of r×c
// matrices (leading dimensions, e.g. the experts of an [E, d, h] weight,
// are the batch). Each matrix keeps a row vector R (r values) and a column
// vector C (c values):
//
//	R_i = β̂ R_i + (1 − β̂) Σ_j (G_ij² + eps1)
//	C_j = β̂ C_j + (1 − β̂) Σ_i (G_ij² + eps1)
//	V̂_ij = R_i C_j / Σ_k R_k
//
// Vectors and scalars keep the unfactored V̂ = β̂ V̂ + (1 − β̂)(G² + eps1).
// Then, over the whole parameter:
//
//	U = G / sqrt(V̂)
//	U = U / max(1, RMS(U)/d)               (update clipping, unless disabled)
//	M = β1 M + (1 − β1) U; U = M           (only when β1 > 0, no bias correction)
//	α = lr · max(eps2, RMS(X))             (ScaleByParamRMS; otherwise α = lr)
//	X = X − lr·wd·X                        (only when Param.Decay)
//	X = X − α U
//
// The learning-rate schedule is the caller's (the papers: constant then
// inverse square root, see WarmupInvSqrt). Statistics are kept in float64
// whatever the parameter type; the first moment, when used, in F. State is
// allocated on the first step; the parameter list must not change between
// steps.
type Adafactor struct {
	Beta1, Beta2, DecayExponent, ClipThreshold, Eps1, Eps2, WeightDecay float64
	ScaleByParamRMS                                                     bool
	// T counts the steps taken.
	T int

	state []adafactorState
	job   any // *adafactorJob[F], reused by every step
}

type adafactorState struct {
	name          string
	n             int
	batch, r, c   int       // factored: batch of r×c matrices; r = 0 when unfactored
	row, col, vec []float64 // row: batch·r, col: batch·c; vec: n (unfactored)
	inv           []float64 // factored: scratch for 1/sqrt(C_j) of one matrix
	m             any       // []F when β1 > 0
}

// adafactorJob is one StepAdafactor call; kernels.Parallel runs it one
// parameter per chunk, each with its own statistics and scratch, so the
// results are those of one pass whatever the number of cores.
type adafactorJob[F Float] struct {
	o          *Adafactor
	params     []tensor.Param[F]
	lr, b, eps float64
}

// NewAdafactor returns an optimizer with cfg's settings (see
// AdafactorConfig).
func NewAdafactor(cfg AdafactorConfig) *Adafactor {
	o := &Adafactor{Beta1: cfg.Beta1, Beta2: cfg.Beta2, DecayExponent: cfg.DecayExponent,
		ClipThreshold: cfg.ClipThreshold, Eps1: cfg.Eps1, Eps2: cfg.Eps2,
		ScaleByParamRMS: cfg.ScaleByParamRMS, WeightDecay: cfg.WeightDecay}
	if o.Beta2 == 0 {
		o.Beta2 = 0.99
	}
	switch {
	case o.ClipThreshold == 0:
		o.ClipThreshold = 1
	case o.ClipThreshold < 0:
		o.ClipThreshold = 0
	}
	if o.Eps1 == 0 {
		o.Eps1 = 1e-30
	}
	if o.Eps2 == 0 {
		o.Eps2 = 1e-3
	}
	return o
}

// decay returns β̂ for step t (1-based).
func (o *Adafactor) decay(t int) float64 {
	if o.DecayExponent > 0 {
		return 1 - math.Pow(float64(t), -o.DecayExponent)
	}
	return o.Beta2 * (1 - math.Pow(o.Beta2, float64(t-1))) / (1 - math.Pow(o.Beta2, float64(t)))
}

// StepAdafactor applies one Adafactor update with learning rate lr to every
// parameter from its Grad (see Adafactor for the algorithm).
func StepAdafactor[F Float](o *Adafactor, params []tensor.Param[F], lr float64) {
	if o.state == nil {
		o.state = make([]adafactorState, len(params))
		for i, p := range params {
			st := adafactorState{name: p.Name, n: len(p.Data)}
			if len(p.Shape) >= 2 && tensor.Numel(p.Shape) == len(p.Data) {
				st.r, st.c = p.Shape[len(p.Shape)-2], p.Shape[len(p.Shape)-1]
				st.batch = tensor.Numel(p.Shape[:len(p.Shape)-2])
				st.row = make([]float64, st.batch*st.r)
				st.col = make([]float64, st.batch*st.c)
				st.inv = make([]float64, st.c)
			} else {
				st.vec = make([]float64, len(p.Data))
			}
			if o.Beta1 > 0 {
				st.m = make([]F, len(p.Data))
			}
			o.state[i] = st
		}
	}
	if len(o.state) != len(params) {
		panic(fmt.Sprintf("optim.StepAdafactor: %d parameters, the optimizer has state for %d", len(params), len(o.state)))
	}
	for i := range params {
		p := &params[i]
		st := &o.state[i]
		if st.name != p.Name || st.n != len(p.Data) || len(p.Grad) != len(p.Data) {
			panic(fmt.Sprintf("optim.StepAdafactor: parameter %d is %q with %d values (grad %d), state is for %q with %d", i, p.Name, len(p.Data), len(p.Grad), st.name, st.n))
		}
	}
	o.T++
	j, _ := o.job.(*adafactorJob[F])
	if j == nil {
		j = new(adafactorJob[F])
		o.job = j
	}
	*j = adafactorJob[F]{o: o, params: params, lr: lr, b: o.decay(o.T), eps: o.Eps1}
	kernels.Parallel(len(params), j)
	j.params = nil
}

// Chunk updates parameter i (kernels.ParallelTask).
func (t *adafactorJob[F]) Chunk(i int) {
	o, lr, b, eps1 := t.o, t.lr, t.b, t.eps
	p := &t.params[i]
	st := &o.state[i]
	x, g := p.Data, p.Grad[:len(p.Data)]
	if len(x) == 0 {
		return
	}
	// Second-moment statistics, then Σ U² with
	// U_ij = G_ij / sqrt(V̂_ij) = G_ij · sqrt(ΣR / R_i) / sqrt(C_j).
	var ss float64
	if st.r > 0 {
		r, c := st.r, st.c
		for k := 0; k < st.batch; k++ {
			gk := g[k*r*c : (k+1)*r*c]
			row, col := st.row[k*r:(k+1)*r], st.col[k*c:(k+1)*c]
			for j := range col {
				col[j] *= b
			}
			for ii := range row {
				gi := gk[ii*c : (ii+1)*c]
				var rs float64
				for j, gv := range gi {
					q := float64(gv)*float64(gv) + eps1
					rs += q
					col[j] += (1 - b) * q
				}
				row[ii] = b*row[ii] + (1-b)*rs
			}
			inv := st.inv[:c]
			sumR := invSqrtCols(inv, row, col)
			for ii, rv := range row {
				gi := gk[ii*c : (ii+1)*c]
				rinv := math.Sqrt(sumR / rv)
				var s float64
				for j, gv := range gi {
					u := float64(gv) * inv[j]
					s += u * u
				}
				ss += s * rinv * rinv
			}
		}
	} else {
		for j, gv := range g {
			v := b*st.vec[j] + (1-b)*(float64(gv)*float64(gv)+eps1)
			st.vec[j] = v
			ss += float64(gv) * float64(gv) / v
		}
	}
	// Update clipping, parameter scale and weight decay.
	scale := 1.0
	if d := o.ClipThreshold; d > 0 {
		scale = 1 / math.Max(1, math.Sqrt(ss/float64(len(x)))/d)
	}
	alpha := lr
	if o.ScaleByParamRMS {
		alpha *= math.Max(o.Eps2, math.Sqrt(kernels.SumSquares(x)/float64(len(x))))
	}
	decay := 1.0
	if p.Decay && o.WeightDecay != 0 {
		decay = 1 - lr*o.WeightDecay
	}
	var m []F
	if o.Beta1 > 0 {
		m = st.m.([]F)[:len(x)]
	}
	if st.r > 0 {
		r, c := st.r, st.c
		for k := 0; k < st.batch; k++ {
			row, col := st.row[k*r:(k+1)*r], st.col[k*c:(k+1)*c]
			inv := st.inv[:c]
			sumR := invSqrtCols(inv, row, col)
			for ii, rv := range row {
				lo := (k*r + ii) * c
				var mi []F
				if m != nil {
					mi = m[lo : lo+c]
				}
				adafactorApply(x[lo:lo+c], g[lo:lo+c], mi, inv, scale*math.Sqrt(sumR/rv), decay, alpha, o.Beta1)
			}
		}
	} else {
		for j, gv := range g {
			u := scale * float64(gv) / math.Sqrt(st.vec[j])
			if m != nil {
				mj := o.Beta1*float64(m[j]) + (1-o.Beta1)*u
				m[j] = F(mj)
				u = mj
			}
			x[j] = F(float64(x[j])*decay - alpha*u)
		}
	}
}

// invSqrtCols sets inv_j = 1/sqrt(col_j) and returns Σ row.
func invSqrtCols(inv, row, col []float64) (sumR float64) {
	for j, cv := range col {
		inv[j] = 1 / math.Sqrt(cv)
	}
	for _, rv := range row {
		sumR += rv
	}
	return sumR
}

// adafactorApply updates one matrix row: u_j = g_j·rs·inv_j, then the
// first moment (when m is not nil) and x_j = x_j·decay − alpha·u_j.
func adafactorApply[F Float](x, g, m []F, inv []float64, rs, decay, alpha, beta1 float64) {
	g, inv = g[:len(x)], inv[:len(x)]
	if m == nil {
		for j, gv := range g {
			x[j] = F(float64(x[j])*decay - alpha*rs*float64(gv)*inv[j])
		}
		return
	}
	m = m[:len(x)]
	for j, gv := range g {
		mj := beta1*float64(m[j]) + (1-beta1)*rs*float64(gv)*inv[j]
		m[j] = F(mj)
		x[j] = F(float64(x[j])*decay - alpha*mj)
	}
}

// SecondMoments returns the factored statistics of parameter i (row and
// col, nil for a vector or scalar) or its unfactored one (vec), nil before
// the first step, for checkpoints.
func (o *Adafactor) SecondMoments(i int) (row, col, vec []float64) {
	if i >= len(o.state) {
		return nil, nil, nil
	}
	st := &o.state[i]
	return st.row, st.col, st.vec
}

// AdafactorFirstMoment returns the first moment of parameter i (nil before
// the first step or when β1 = 0), for checkpoints.
func AdafactorFirstMoment[F Float](o *Adafactor, i int) []F {
	if i >= len(o.state) || o.state[i].m == nil {
		return nil
	}
	return o.state[i].m.([]F)
}
