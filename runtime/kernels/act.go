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

// actEval returns act(x).
func actEval(a Act, x float64) float64 {
	switch a {
	case ActReLU:
		return max(x, 0)
	case ActGELU:
		return 0.5 * x * (1 + math.Erf(x*invSqrt2))
	case ActGELUTanh:
		return 0.5 * x * (1 + math.Tanh(sqrt2OverPi*(x+geluC*x*x*x)))
	case ActSqReLU:
		if x > 0 {
			return x * x
		}
		return 0
	case ActSiLU:
		return x / (1 + math.Exp(-x))
	}
	panic(fmt.Sprintf("kernels: unknown activation %v", a))
}

// actDeriv returns act'(x), the exact derivative of actEval.
func actDeriv(a Act, x float64) float64 {
	switch a {
	case ActReLU:
		if x > 0 {
			return 1
		}
		return 0
	case ActGELU:
		return 0.5*(1+math.Erf(x*invSqrt2)) + x*invSqrt2Pi*math.Exp(-0.5*x*x)
	case ActGELUTanh:
		t := math.Tanh(sqrt2OverPi * (x + geluC*x*x*x))
		return 0.5*(1+t) + 0.5*x*(1-t*t)*sqrt2OverPi*(1+3*geluC*x*x)
	case ActSqReLU:
		if x > 0 {
			return 2 * x
		}
		return 0
	case ActSiLU:
		s := 1 / (1 + math.Exp(-x))
		return s * (1 + x*(1-s))
	}
	panic(fmt.Sprintf("kernels: unknown activation %v", a))
}

// Activate sets y = act(x) element-wise; y may alias x.
func Activate[F Float](act Act, y, x []F) {
	checkLen("Activate", "x", len(x), len(y))
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
	default:
		for i, v := range x {
			y[i] = F(actEval(act, float64(v)))
		}
	}
}

// ActivateBackward accumulates dx += dy * act'(x).
func ActivateBackward[F Float](act Act, dx, dy, x []F) {
	n := len(dx)
	checkLen("ActivateBackward", "dy", len(dy), n)
	checkLen("ActivateBackward", "x", len(x), n)
	dy, x = dy[:n], x[:n]
	switch act {
	case ActReLU:
		for i, v := range x {
			if v > 0 {
				dx[i] += dy[i]
			}
		}
	case ActSqReLU:
		for i, v := range x {
			if v > 0 {
				dx[i] += 2 * v * dy[i]
			}
		}
	default:
		for i, v := range x {
			dx[i] += dy[i] * F(actDeriv(act, float64(v)))
		}
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
	for r := range rows {
		g := x[r*2*hidden : r*2*hidden+hidden]
		u := x[r*2*hidden+hidden : (r+1)*2*hidden]
		yr := y[r*hidden : (r+1)*hidden]
		for j := range yr {
			yr[j] = F(actEval(act, float64(g[j]))) * u[j]
		}
	}
}

// GLUBackward accumulates the gradients of GLU into dx ([rows, 2*hidden]):
//
//	dg += dy * u * act'(g);  du += dy * act(g)
func GLUBackward[F Float](act Act, dx, dy, x []F, rows, hidden int) {
	checkLen("GLUBackward", "x", len(x), rows*2*hidden)
	checkLen("GLUBackward", "dx", len(dx), rows*2*hidden)
	checkLen("GLUBackward", "dy", len(dy), rows*hidden)
	for r := range rows {
		g := x[r*2*hidden : r*2*hidden+hidden]
		u := x[r*2*hidden+hidden : (r+1)*2*hidden]
		dg := dx[r*2*hidden : r*2*hidden+hidden]
		du := dx[r*2*hidden+hidden : (r+1)*2*hidden]
		dyr := dy[r*hidden : (r+1)*hidden]
		for j := range dyr {
			gv := float64(g[j])
			dg[j] += dyr[j] * u[j] * F(actDeriv(act, gv))
			du[j] += dyr[j] * F(actEval(act, gv))
		}
	}
}
