package kernels

import "math"

// Fast scalar exp and erf for the pure-Go float32 kernels (the generic
// vector implementation in vecmath.go; CPUs with AVX2 or AVX-512 run the
// assembly instead). float64 kernels (used by the compiler's gradient
// checks) keep math.Exp and math.Erf.
//
// expFast: relative error below 2e-8 on [-87, 88] (checked in
// fastmath_test.go), far below float32's 6e-8 rounding step.
// erfFast: absolute error below 1.5e-7 (Abramowitz & Stegun 7.1.26 on top
// of expFast), about two float32 steps near 1.

const (
	log2e = 1.44269504088896340735992468100189214
	ln2   = 0.693147180559945309417232121458176568
)

// expFast returns e^x for float32 use.
func expFast(x float64) float64 {
	if x < -87.3 {
		return 0
	}
	if x > 88.7 {
		return math.Inf(1)
	}
	n := math.Floor(x*log2e + 0.5)
	r := x - n*ln2 // |r| <= ln2/2
	// Taylor series of e^r to degree 8: error below r^9/9! < 2e-10.
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040+r*(1.0/40320))))))))
	return p * math.Float64frombits(uint64(int64(n)+1023)<<52)
}

// erfFast returns erf(x) for float32 use.
func erfFast(x float64) float64 {
	s := 1.0
	if x < 0 {
		s, x = -1, -x
	}
	t := 1 / (1 + 0.3275911*x)
	y := 1 - t*(0.254829592+t*(-0.284496736+t*(1.421413741+t*(-1.453152027+t*1.061405429))))*expFast(-x*x)
	return s * y
}

// expOf and erfOf pick the fast forms for float32 and the exact ones for
// float64; the choice folds away at compile time.
func expOf[T Float](x float64) float64 {
	if is32[T]() {
		return expFast(x)
	}
	return math.Exp(x)
}

func erfOf[T Float](x float64) float64 {
	if is32[T]() {
		return erfFast(x)
	}
	return math.Erf(x)
}
