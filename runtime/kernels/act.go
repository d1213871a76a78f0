package kernels

import (
	"fmt"
	"math"
)

// Act names an element-wise activation function.
type Act int

// The activations.
const (
	ActReLU     Act = iota // max(x, 0)
	ActGELU                // x·Φ(x), exact erf form
	ActGELUTanh            // GELU's tanh approximation
	ActSqReLU              // relu(x)²
	ActSiLU                // x·σ(x)
)

var actNames = [...]string{ActReLU: "relu", ActGELU: "gelu", ActGELUTanh: "gelu_tanh", ActSqReLU: "sqrelu", ActSiLU: "silu"}

func (a Act) String() string {
	if a >= 0 && int(a) < len(actNames) {
		return actNames[a]
	}
	return fmt.Sprintf("Act(%d)", int(a))
}

// ParseAct returns the activation named s (as printed by String).
func ParseAct(s string) (Act, bool) {
	for i, n := range actNames {
		if n == s {
			return Act(i), true
		}
	}
	return 0, false
}

const (
	invSqrt2    = 0.70710678118654752440084436210484903928483593768847
	invSqrt2Pi  = 0.39894228040143267793994605993438186847585863116493
	sqrt2OverPi = 0.79788456080286535587989211986876373695171726232986
	geluC       = 0.044715
)

// Activate sets y = act(x) element-wise; y may alias x.
func Activate[F Float](act Act, y, x []F) {
	checkLen("Activate", "x", len(x), len(y))
	checkAct(act)
	if is32[F]() {
		activate(act, as32(y), as32(x))
	} else {
		activate(act, as64(y), as64(x))
	}
}

// ActivateBackward accumulates dx += dy * act'(x).
func ActivateBackward[F Float](act Act, dx, dy, x []F) {
	n := len(dx)
	checkLen("ActivateBackward", "dy", len(dy), n)
	checkLen("ActivateBackward", "x", len(x), n)
	checkAct(act)
	if is32[F]() {
		activateBackward(act, as32(dx), as32(dy), as32(x))
	} else {
		activateBackward(act, as64(dx), as64(dy), as64(x))
	}
}

// GLU computes a gated linear unit. x is [rows, 2*hidden]; the first half
// of each row is the gate g, the second the up-projection u:
//
//	y[r,j] = act(g[r,j]) * u[r,j]
//
// ActReLU gives ReGLU, ActGELU GEGLU and ActSiLU SwiGLU.
func GLU[F Float](act Act, y, x []F, rows, hidden int) {
	checkLen("GLU", "x", len(x), rows*2*hidden)
	checkLen("GLU", "y", len(y), rows*hidden)
	checkAct(act)
	if is32[F]() {
		glu(act, as32(y), as32(x), rows, hidden)
	} else {
		glu(act, as64(y), as64(x), rows, hidden)
	}
}

// GLUBackward accumulates the gradients of GLU into dx ([rows, 2*hidden]):
//
//	dg += dy * u * act'(g);  du += dy * act(g)
func GLUBackward[F Float](act Act, dx, dy, x []F, rows, hidden int) {
	checkLen("GLUBackward", "x", len(x), rows*2*hidden)
	checkLen("GLUBackward", "dx", len(dx), rows*2*hidden)
	checkLen("GLUBackward", "dy", len(dy), rows*hidden)
	checkAct(act)
	if is32[F]() {
		gluBackward(act, as32(dx), as32(dy), as32(x), rows, hidden)
	} else {
		gluBackward(act, as64(dx), as64(dy), as64(x), rows, hidden)
	}
}

func checkAct(a Act) {
	if a < 0 || int(a) >= len(actNames) {
		panic(fmt.Sprintf("kernels: unknown activation %v", a))
	}
}

// actCost is a rough cost of one activation in element operations.
func actCost(a Act) int {
	if a == ActReLU || a == ActSqReLU {
		return 1
	}
	return 16
}

func activate[T real](act Act, y, x []T) {
	t := getEW[T]()
	t.act, t.a, t.b = act, y, x
	t.kind = ewActivateChunk
	t.run(len(y), actCost(act))
	putEW(t)
}

func activateBackward[T real](act Act, dx, dy, x []T) {
	t := getEW[T]()
	t.act, t.a, t.b, t.c = act, dx, dy, x
	t.kind = ewActivateBackwardChunk
	t.run(len(dx), 2*actCost(act))
	putEW(t)
}

func glu[T real](act Act, y, x []T, rows, hidden int) {
	t := getEW[T]()
	t.act, t.a, t.b, t.w = act, y, x, hidden
	t.kind = ewGluChunk
	t.run(rows, hidden*actCost(act))
	putEW(t)
}

func gluBackward[T real](act Act, dx, dy, x []T, rows, hidden int) {
	t := getEW[T]()
	t.act, t.a, t.b, t.c, t.w = act, dx, dy, x, hidden
	t.kind = ewGluBackwardChunk
	t.run(rows, 2*hidden*actCost(act))
	putEW(t)
}

// actApply sets y[i] = act(x[i]); y may alias x. float32 calls take the
// vector kernels instead (ewTask.vecAct).
func actApply[T real](act Act, y, x []T) {
	x = x[:len(y)]
	switch act {
	case ActReLU:
		for i, v := range x {
			y[i] = max(v, 0)
		}
	case ActSqReLU:
		for i, v := range x {
			v = max(v, 0)
			y[i] = v * v
		}
	case ActGELU:
		for i, v := range x {
			f := float64(v)
			y[i] = T(0.5 * f * (1 + erfOf[T](f*invSqrt2)))
		}
	case ActGELUTanh:
		for i, v := range x {
			f := float64(v)
			y[i] = T(0.5 * f * (1 + math.Tanh(sqrt2OverPi*(f+geluC*f*f*f))))
		}
	case ActSiLU:
		for i, v := range x {
			f := float64(v)
			y[i] = T(f / (1 + expOf[T](-f)))
		}
	}
}

// actDerivApply sets d[i] = act'(x[i]) and, when f is not nil,
// f[i] = act(x[i]).
func actDerivApply[T real](act Act, d, f, x []T) {
	x = x[:len(d)]
	if f != nil {
		f = f[:len(d)]
	}
	switch act {
	case ActReLU:
		for i, v := range x {
			d[i] = 0
			if v > 0 {
				d[i] = 1
			}
		}
		if f != nil {
			actApply(act, f, x)
		}
	case ActSqReLU:
		for i, v := range x {
			d[i] = 2 * max(v, 0)
		}
		if f != nil {
			actApply(act, f, x)
		}
	case ActGELU:
		for i, v := range x {
			z := float64(v)
			cdf := 0.5 * (1 + erfOf[T](z*invSqrt2))
			d[i] = T(cdf + z*invSqrt2Pi*expOf[T](-0.5*z*z))
			if f != nil {
				f[i] = T(z * cdf)
			}
		}
	case ActGELUTanh:
		for i, v := range x {
			z := float64(v)
			t := math.Tanh(sqrt2OverPi * (z + geluC*z*z*z))
			d[i] = T(0.5*(1+t) + 0.5*z*(1-t*t)*sqrt2OverPi*(1+3*geluC*z*z))
			if f != nil {
				f[i] = T(0.5 * z * (1 + t))
			}
		}
	case ActSiLU:
		for i, v := range x {
			z := float64(v)
			s := 1 / (1 + expOf[T](-z))
			d[i] = T(s * (1 + z*(1-s)))
			if f != nil {
				f[i] = T(z * s)
			}
		}
	}
}
