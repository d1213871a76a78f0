package kernels

import "math"

// vecImpl is one implementation of the float32 vector kernels. Each kernel
// works on any length n = len(first argument); the other slices must hold
// at least n elements. dst may alias src.
type vecImpl struct {
	name      string
	available bool

	exp       func(dst, src []float32)                    // dst = e^src
	expSubSum func(dst, src []float32, m float32) float64 // dst = e^(src-m), returns Σ dst
	expSubAcc func(dst, src []float32, m, s float32)      // dst += s·e^(src-m)
	gelu      func(dst, src []float32)                    // x·Φ(x)
	geluTanh  func(dst, src []float32)                    // GELU, tanh form
	silu      func(dst, src []float32)                    // x·σ(x)
	geluD     func(d, f, x []float32)                     // d = gelu'(x), f = gelu(x)
	geluTanhD func(d, f, x []float32)                     // d, f for the tanh form
	siluD     func(d, f, x []float32)                     // d = silu'(x), f = silu(x)
}

// vecGeneric is the pure-Go implementation (float64 arithmetic with
// expFast and erfFast), used without assembly and under purego.
var vecGeneric = vecImpl{
	name: "generic", available: true,
	exp: expGeneric, expSubSum: expSubSumGeneric, expSubAcc: expSubAccGeneric,
	gelu: geluGeneric, geluTanh: geluTanhGeneric, silu: siluGeneric,
	geluD: geluDGeneric, geluTanhD: geluTanhDGeneric, siluD: siluDGeneric,
}

// vecImpls lists the implementations built into this binary, best last;
// vecUse is the best one the CPU runs.
var (
	vecImpls = []*vecImpl{&vecGeneric}
	vecUse   = &vecGeneric
)

func registerVec(v *vecImpl) {
	vecImpls = append(vecImpls, v)
	if v.available {
		vecUse = v
	}
}

// vexp32 sets dst[i] = e^src[i] for i < len(dst); dst may alias src.
// Maximum relative error 2.5e-7 for results in float32's normal range; e^x
// is +Inf above about 88.72, rounds through the denormals below about
// -87.3 and is 0 below -103.9 (generic: 0 below -87.3); NaN gives NaN.
func vexp32(dst, src []float32) {
	vecUse.exp(dst, src[:len(dst)])
}

// vexpSubSum32 sets dst[i] = e^(src[i]-m) and returns Σ dst (in float64).
func vexpSubSum32(dst, src []float32, m float32) float64 {
	return vecUse.expSubSum(dst, src[:len(dst)], m)
}

// vexpSubAcc32 adds s·e^(src[i]-m) to dst[i].
func vexpSubAcc32(dst, src []float32, m, s float32) {
	vecUse.expSubAcc(dst, src[:len(dst)], m, s)
}

// vact32 sets y = act(x) for the GELU, GELU-tanh and SiLU activations and
// reports whether it handled act.
func vact32(act Act, y, x []float32) bool {
	x = x[:len(y)]
	switch act {
	case ActGELU:
		vecUse.gelu(y, x)
	case ActGELUTanh:
		vecUse.geluTanh(y, x)
	case ActSiLU:
		vecUse.silu(y, x)
	default:
		return false
	}
	return true
}

// vactDeriv32 sets d = act'(x) and f = act(x) (f must not be nil) for the
// activations vact32 handles, and reports whether it handled act.
func vactDeriv32(act Act, d, f, x []float32) bool {
	f, x = f[:len(d)], x[:len(d)]
	switch act {
	case ActGELU:
		vecUse.geluD(d, f, x)
	case ActGELUTanh:
		vecUse.geluTanhD(d, f, x)
	case ActSiLU:
		vecUse.siluD(d, f, x)
	default:
		return false
	}
	return true
}

func expGeneric(dst, src []float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] = float32(expFast(float64(v)))
	}
}

func expSubSumGeneric(dst, src []float32, m float32) float64 {
	src = src[:len(dst)]
	var s float64
	for i, v := range src {
		e := float32(expFast(float64(v - m)))
		dst[i] = e
		s += float64(e)
	}
	return s
}

func expSubAccGeneric(dst, src []float32, m, s float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] += s * float32(expFast(float64(v-m)))
	}
}

func geluGeneric(dst, src []float32) {
	src = src[:len(dst)]
	for i, v := range src {
		f := float64(v)
		dst[i] = float32(0.5 * f * (1 + erfFast(f*invSqrt2)))
	}
}

func geluTanhGeneric(dst, src []float32) {
	src = src[:len(dst)]
	for i, v := range src {
		f := float64(v)
		dst[i] = float32(0.5 * f * (1 + math.Tanh(sqrt2OverPi*(f+geluC*f*f*f))))
	}
}

func siluGeneric(dst, src []float32) {
	src = src[:len(dst)]
	for i, v := range src {
		f := float64(v)
		dst[i] = float32(f / (1 + expFast(-f)))
	}
}

func geluDGeneric(d, f, x []float32) {
	x, f = x[:len(d)], f[:len(d)]
	for i, v := range x {
		z := float64(v)
		cdf := 0.5 * (1 + erfFast(z*invSqrt2))
		d[i] = float32(cdf + z*invSqrt2Pi*expFast(-0.5*z*z))
		f[i] = float32(z * cdf)
	}
}

func geluTanhDGeneric(d, f, x []float32) {
	x, f = x[:len(d)], f[:len(d)]
	for i, v := range x {
		z := float64(v)
		t := math.Tanh(sqrt2OverPi * (z + geluC*z*z*z))
		d[i] = float32(0.5*(1+t) + 0.5*z*(1-t*t)*sqrt2OverPi*(1+3*geluC*z*z))
		f[i] = float32(0.5 * z * (1 + t))
	}
}

func siluDGeneric(d, f, x []float32) {
	x, f = x[:len(d)], f[:len(d)]
	for i, v := range x {
		z := float64(v)
		s := 1 / (1 + expFast(-z))
		d[i] = float32(s * (1 + z*(1-s)))
		f[i] = float32(z * s)
	}
}
