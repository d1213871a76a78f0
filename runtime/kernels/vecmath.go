package kernels

import "math"

// vecImpl is one implementation of the float32 vector kernels. Each kernel
// works on any length n = len(first argument); the other slices must hold
// at least n elements. dst may alias src.
type vecImpl struct {
	name      string
	available bool

	// exp sets dst = e^src (dst may alias src): relative error at most
	// 1.5e-7; +Inf above about 88.72, denormal below about -87.3 and 0
	// below -103.9 (generic: 0 below -87.3); NaN gives NaN. The others
	// share its arithmetic.
	exp       func(dst, src []float32)
	expSubSum func(dst, src []float32, m float32) float64 // dst = e^(src-m), returns Σ dst
	expSum    func(src []float32, m float32) float64      // Σ e^(src-m)
	expSubAcc func(dst, src []float32, m, s float32)      // dst += s·e^(src-m)
	scale     func(dst, src []float32, s float32)         // dst = s·src
	axpy      func(dst, src []float32, s float32)         // dst += s·src
	dot       func(a, b []float32) float64                // Σ a·b, products in float32
	max       func(x []float32) float32                   // largest element, -Inf if empty, NaN if any is NaN
	add       func(y, a, b []float32)                     // y = a + b
	nonFinite func(x []float32) float64                   // NaN if x holds NaN or ±Inf, else 0

	// Norm kernels; sums are float64, see the generic versions.
	sum              func(x []float32) float64
	sumSq            func(x []float32, m float32) float64
	dot3             func(a, b, c []float32) float64
	rmsNorm          func(y, x, g []float32, s float32)
	rmsNormBwd       func(dx, dg, x, dy, g []float32, s, k float32)
	layerNorm        func(y, x, g, b []float32, m, s float32)
	layerNormBwdSums func(dg, db, x, dy, g []float32, m, s float32) (float64, float64)
	layerNormBwdDx   func(dx, x, dy, g []float32, m, s, m1, m2 float32)

	relu, sqRelu, gelu, geluTanh, silu vecAct
}

// vecAct holds the kernels of one activation.
type vecAct struct {
	fwd    func(y, x []float32)             // y = act(x)
	deriv  func(d, f, x []float32)          // d = act'(x), f = act(x)
	bwd    func(dx, dy, x []float32)        // dx += dy·act'(x)
	glu    func(y, g, u []float32)          // y = act(g)·u
	gluBwd func(dg, du, dy, g, u []float32) // dg += dy·u·act'(g), du += dy·act(g)
}

// act returns the kernels of a (nil for an unknown one).
func (v *vecImpl) act(a Act) *vecAct {
	switch a {
	case ActReLU:
		return &v.relu
	case ActSqReLU:
		return &v.sqRelu
	case ActGELU:
		return &v.gelu
	case ActGELUTanh:
		return &v.geluTanh
	case ActSiLU:
		return &v.silu
	}
	return nil
}

// vecGeneric is the pure-Go implementation (float64 arithmetic with
// expFast and erfFast), used without assembly and under purego.
var vecGeneric = vecImpl{
	name: "generic", available: true,
	exp: expGeneric, expSubSum: expSubSumGeneric, expSum: expSumGeneric, expSubAcc: expSubAccGeneric,
	scale: scaleGeneric, axpy: axpyGeneric, dot: dotGeneric, max: maxGeneric, add: addGeneric, nonFinite: nonFiniteGeneric,
	sum: sumGeneric, sumSq: sumSqGeneric, dot3: dot3Generic,
	rmsNorm: rmsNormGeneric, rmsNormBwd: rmsNormBwdGeneric, layerNorm: layerNormGeneric,
	layerNormBwdSums: layerNormBwdSumsGeneric, layerNormBwdDx: layerNormBwdDxGeneric,
	relu:     genericAct(reluGeneric, reluD1),
	sqRelu:   genericAct(sqReluGeneric, sqReluD1),
	gelu:     genericAct(geluGeneric, geluD1),
	geluTanh: genericAct(geluTanhGeneric, geluTanhD1),
	silu:     genericAct(siluGeneric, siluD1),
}

// genericAct builds the kernels of one activation from its forward loop and
// its scalar derivative (d = act'(z), f = act(z)).
func genericAct(fwd func(y, x []float32), one func(z float64) (d, f float64)) vecAct {
	return vecAct{
		fwd: fwd,
		deriv: func(d, f, x []float32) {
			x, f = x[:len(d)], f[:len(d)]
			for i, v := range x {
				a, b := one(float64(v))
				d[i], f[i] = float32(a), float32(b)
			}
		},
		bwd: func(dx, dy, x []float32) {
			dy, x = dy[:len(dx)], x[:len(dx)]
			for i, v := range x {
				d, _ := one(float64(v))
				dx[i] += dy[i] * float32(d)
			}
		},
		glu: func(y, g, u []float32) {
			fwd(y, g)
			u = u[:len(y)]
			for j := range y {
				y[j] *= u[j]
			}
		},
		gluBwd: func(dg, du, dy, g, u []float32) {
			du, dy, g, u = du[:len(dg)], dy[:len(dg)], g[:len(dg)], u[:len(dg)]
			for i, v := range g {
				d, f := one(float64(v))
				dg[i] += dy[i] * u[i] * float32(d)
				du[i] += dy[i] * float32(f)
			}
		},
	}
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

// vexpSubSum32 sets dst[i] = e^(src[i]-m) and returns Σ dst (in float64).
func vexpSubSum32(dst, src []float32, m float32) float64 {
	return vecUse.expSubSum(dst, src[:len(dst)], m)
}

// vexpSum32 returns Σ e^(src[i]-m) (in float64).
func vexpSum32(src []float32, m float32) float64 {
	return vecUse.expSum(src, m)
}

// vexpSubAcc32 adds s·e^(src[i]-m) to dst[i].
func vexpSubAcc32(dst, src []float32, m, s float32) {
	vecUse.expSubAcc(dst, src[:len(dst)], m, s)
}

// vmax32 returns the largest element of x (-Inf when empty, NaN when x
// holds a NaN).
func vmax32(x []float32) float32 { return vecUse.max(x) }

func addGeneric(y, a, b []float32) {
	a, b = a[:len(y)], b[:len(y)]
	for i := range y {
		y[i] = a[i] + b[i]
	}
}

func nonFiniteGeneric(x []float32) float64 {
	var acc float32
	for _, v := range x {
		acc += v - v
	}
	return float64(acc)
}

func maxGeneric(x []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		m = max(m, v)
	}
	return m
}

// vscale32 sets x[i] *= s.
func vscale32(x []float32, s float32) { vecUse.scale(x, x, s) }

func scaleGeneric(dst, src []float32, s float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] = v * s
	}
}

func axpyGeneric(dst, src []float32, s float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] += s * v
	}
}

func dotGeneric(a, b []float32) float64 {
	b = b[:len(a)]
	var s float64
	for i, v := range a {
		s += float64(v * b[i])
	}
	return s
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

func expSumGeneric(src []float32, m float32) float64 {
	var s float64
	for _, v := range src {
		s += float64(float32(expFast(float64(v - m))))
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

func reluGeneric(dst, src []float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] = max(v, 0)
	}
}

func sqReluGeneric(dst, src []float32) {
	src = src[:len(dst)]
	for i, v := range src {
		v = max(v, 0)
		dst[i] = v * v
	}
}

func reluD1(z float64) (d, f float64) {
	if z > 0 {
		d = 1
	}
	return d, max(z, 0)
}

func sqReluD1(z float64) (d, f float64) {
	r := max(z, 0)
	return 2 * r, r * r
}

func geluD1(z float64) (d, f float64) {
	cdf := 0.5 * (1 + erfFast(z*invSqrt2))
	return cdf + z*invSqrt2Pi*expFast(-0.5*z*z), z * cdf
}

func geluTanhD1(z float64) (d, f float64) {
	t := math.Tanh(sqrt2OverPi * (z + geluC*z*z*z))
	return 0.5*(1+t) + 0.5*z*(1-t*t)*sqrt2OverPi*(1+3*geluC*z*z), 0.5 * z * (1 + t)
}

func siluD1(z float64) (d, f float64) {
	s := 1 / (1 + expFast(-z))
	return s * (1 + z*(1-s)), z * s
}

func sumGeneric(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	return s
}

// sumSqGeneric returns Σ (x-m)², x-m rounded to float32.
func sumSqGeneric(x []float32, m float32) float64 {
	var s0, s1 float64
	i := 0
	for ; i+2 <= len(x); i += 2 {
		a, b := float64(x[i]-m), float64(x[i+1]-m)
		s0 += a * a
		s1 += b * b
	}
	if i < len(x) {
		a := float64(x[i] - m)
		s0 += a * a
	}
	return s0 + s1
}

func dot3Generic(a, b, c []float32) float64 {
	b, c = b[:len(a)], c[:len(a)]
	var s float64
	for i := range a {
		s += float64(a[i] * b[i] * c[i])
	}
	return s
}

func rmsNormGeneric(y, x, g []float32, s float32) {
	x, g = x[:len(y)], g[:len(y)]
	for j := range y {
		y[j] = x[j] * s * g[j]
	}
}

func rmsNormBwdGeneric(dx, dg, x, dy, g []float32, s, k float32) {
	dg, x, dy, g = dg[:len(dx)], x[:len(dx)], dy[:len(dx)], g[:len(dx)]
	for j := range dx {
		dx[j] += s*g[j]*dy[j] - k*x[j]
		dg[j] += dy[j] * x[j] * s
	}
}

func layerNormGeneric(y, x, g, b []float32, m, s float32) {
	x, g, b = x[:len(y)], g[:len(y)], b[:len(y)]
	for j := range y {
		y[j] = (x[j]-m)*s*g[j] + b[j]
	}
}

func layerNormBwdSumsGeneric(dg, db, x, dy, g []float32, m, s float32) (s1, s2 float64) {
	db, x, dy, g = db[:len(dg)], x[:len(dg)], dy[:len(dg)], g[:len(dg)]
	for j := range dg {
		xh := (x[j] - m) * s
		dxh := dy[j] * g[j]
		s1 += float64(dxh)
		s2 += float64(dxh * xh)
		dg[j] += dy[j] * xh
		db[j] += dy[j]
	}
	return s1, s2
}

func layerNormBwdDxGeneric(dx, x, dy, g []float32, m, s, m1, m2 float32) {
	x, dy, g = x[:len(dx)], dy[:len(dx)], g[:len(dx)]
	for j := range dx {
		xh := (x[j] - m) * s
		dx[j] += s * (dy[j]*g[j] - m1 - xh*m2)
	}
}
