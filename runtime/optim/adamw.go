package optim

import (
	"fmt"
	"math"

	"github.com/bfcdev/bfc/runtime/kernels"
	"github.com/bfcdev/bfc/runtime/tensor"
)

// Float is the element type of parameters.
type Float = kernels.Float

// AdamWConfig configures NewAdamW. Zero fields take the defaults β1 0.9,
// β2 0.95, eps 1e-8 and weight decay 0.1; a negative WeightDecay means none.
type AdamWConfig struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64
}

// AdamW is the Adam optimizer with decoupled weight decay (Loshchilov &
// Hutter). Moment state is kept per parameter index and allocated on the
// first step; the parameter list must not change between steps.
type AdamW struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64
	// T counts the steps taken; bias correction uses it.
	T int

	state []adamState
	// chunks cut the parameters into pieces of at most adamChunk values
	// that StepAdamW updates in parallel; job is its reusable task.
	chunks []adamPiece
	job    any // *adamJob[F]
}

// adamChunk is the most values one parallel piece of a step updates.
const adamChunk = 1 << 15

// adamPiece is values lo:hi of parameter p.
type adamPiece struct{ p, lo, hi int }

// adamJob is one StepAdamW call, run piece by piece by kernels.Parallel.
type adamJob[F Float] struct {
	o                  *AdamW
	params             []tensor.Param[F]
	b1, b2, c1, c2     F
	stepSize, invSqrt2 float64
	decay              F
}

type adamState struct {
	name string
	n    int
	m, v any // []F
}

// NewAdamW returns an optimizer with cfg's settings (see AdamWConfig).
// LR is for the caller's reference: StepAdamW takes the rate as argument.
func NewAdamW(cfg AdamWConfig) *AdamW {
	o := &AdamW{LR: cfg.LR, Beta1: cfg.Beta1, Beta2: cfg.Beta2, Eps: cfg.Eps, WeightDecay: cfg.WeightDecay}
	if o.Beta1 == 0 {
		o.Beta1 = 0.9
	}
	if o.Beta2 == 0 {
		o.Beta2 = 0.95
	}
	if o.Eps == 0 {
		o.Eps = 1e-8
	}
	switch {
	case o.WeightDecay == 0:
		o.WeightDecay = 0.1
	case o.WeightDecay < 0:
		o.WeightDecay = 0
	}
	return o
}

// StepAdamW applies one AdamW update with learning rate lr to every
// parameter from its Grad:
//
//	x -= lr*wd*x                       (only when Param.Decay)
//	m = β1*m + (1-β1)*g;  v = β2*v + (1-β2)*g²
//	x -= lr * (m/(1-β1^t)) / (sqrt(v/(1-β2^t)) + eps)
func StepAdamW[F Float](o *AdamW, params []tensor.Param[F], lr float64) {
	if o.state == nil {
		o.state = make([]adamState, len(params))
		for i, p := range params {
			o.state[i] = adamState{name: p.Name, n: len(p.Data), m: make([]F, len(p.Data)), v: make([]F, len(p.Data))}
		}
	}
	if o.chunks == nil {
		for i, p := range params {
			for lo := 0; lo < len(p.Data); lo += adamChunk {
				o.chunks = append(o.chunks, adamPiece{i, lo, min(lo+adamChunk, len(p.Data))})
			}
		}
	}
	if len(o.state) != len(params) {
		panic(fmt.Sprintf("optim.StepAdamW: %d parameters, the optimizer has state for %d", len(params), len(o.state)))
	}
	o.T++
	bc1 := 1 - math.Pow(o.Beta1, float64(o.T))
	bc2 := 1 - math.Pow(o.Beta2, float64(o.T))
	b1, b2 := F(o.Beta1), F(o.Beta2)
	c1, c2 := F(1-o.Beta1), F(1-o.Beta2)
	stepSize := lr / bc1
	invSqrtBC2 := 1 / math.Sqrt(bc2)
	for i := range params {
		p := &params[i]
		st := &o.state[i]
		if st.name != p.Name || st.n != len(p.Data) || len(p.Grad) != len(p.Data) {
			panic(fmt.Sprintf("optim.StepAdamW: parameter %d is %q with %d values (grad %d), state is for %q with %d", i, p.Name, len(p.Data), len(p.Grad), st.name, st.n))
		}
	}
	j, _ := o.job.(*adamJob[F])
	if j == nil {
		j = new(adamJob[F])
		o.job = j
	}
	*j = adamJob[F]{o: o, params: params, b1: b1, b2: b2, c1: c1, c2: c2, stepSize: stepSize, invSqrt2: invSqrtBC2,
		decay: F(1 - lr*o.WeightDecay)}
	kernels.Parallel(len(o.chunks), j)
	j.params = nil
}

// Chunk updates piece c of the parameters (kernels.ParallelTask); every
// value's update is the same as in one pass, so results do not depend
// on the number of cores.
func (j *adamJob[F]) Chunk(c int) {
	pc := j.o.chunks[c]
	p := &j.params[pc.p]
	st := &j.o.state[pc.p]
	m, v := st.m.([]F)[pc.lo:pc.hi], st.v.([]F)[pc.lo:pc.hi]
	x, g := p.Data[pc.lo:pc.hi], p.Grad[pc.lo:pc.hi]
	decay := F(1)
	if p.Decay {
		decay = j.decay
	}
	b1, b2, c1, c2, eps := j.b1, j.b2, j.c1, j.c2, j.o.Eps
	for i := range x {
		gi := g[i]
		mi := b1*m[i] + c1*gi
		vi := b2*v[i] + c2*gi*gi
		m[i], v[i] = mi, vi
		den := math.Sqrt(float64(vi))*j.invSqrt2 + eps
		x[i] = x[i]*decay - F(j.stepSize*float64(mi)/den)
	}
}

// Moments returns the first and second moment buffers of parameter i
// (nil before the first step), for checkpoints.
func Moments[F Float](o *AdamW, i int) (m, v []F) {
	if i >= len(o.state) {
		return nil, nil
	}
	return o.state[i].m.([]F), o.state[i].v.([]F)
}

// ClipGradNorm computes the global L2 norm of all gradients and, when it
// exceeds maxNorm (> 0), scales every gradient by maxNorm/norm. It returns
// the norm before clipping; a non-finite norm leaves gradients unchanged.
func ClipGradNorm[F Float](params []tensor.Param[F], maxNorm float64) (norm float64) {
	var ss float64
	for _, p := range params {
		ss += kernels.SumSquares(p.Grad)
	}
	norm = math.Sqrt(ss)
	if maxNorm > 0 && norm > maxNorm && !math.IsInf(norm, 0) {
		s := F(maxNorm / norm)
		for _, p := range params {
			kernels.Scale(p.Grad, s)
		}
	}
	return norm
}
