package kernels

import (
	"fmt"
	"math"
	"os"
	"testing"
)

// vecImplNames are the float32 vector implementations bfc knows.
var vecImplNames = []string{"generic", "avx2", "avx512"}

// forEachVec runs f once per vector implementation the CPU has; the others
// are skipped, except that BFC_REQUIRE_AVX512=1 makes a missing AVX-512 a
// failure (on builds with assembly).
func forEachVec(t *testing.T, f func(t *testing.T, v *vecImpl)) {
	for _, name := range vecImplNames {
		t.Run(name, func(t *testing.T) {
			var v *vecImpl
			for _, x := range vecImpls {
				if x.name == name {
					v = x
				}
			}
			switch {
			case v == nil:
				t.Skip("not built into this binary (purego or not amd64)")
			case !v.available && name == "avx512" && os.Getenv("BFC_REQUIRE_AVX512") == "1":
				t.Fatal("BFC_REQUIRE_AVX512=1 but the CPU lacks AVX-512F")
			case !v.available:
				t.Skip("CPU lacks the features of " + name)
			}
			f(t, v)
		})
	}
}

const (
	f32Max  = math.MaxFloat32
	f32Tiny = 0x1p-126 // smallest normal float32
)

// Float64 references.

func refGelu(x float64) float64 { return 0.5 * x * math.Erfc(-x/math.Sqrt2) }

func refGeluD(x float64) float64 {
	return 0.5*math.Erfc(-x/math.Sqrt2) + x*math.Exp(-0.5*x*x)/math.Sqrt(2*math.Pi)
}

// The tanh-form references use x·σ(2u), which equals 0.5x(1+tanh(u))
// without its cancellation for large negative x.
func geluTanhU(x float64) float64 { return math.Sqrt(2/math.Pi) * (x + 0.044715*x*x*x) }

func refGeluTanh(x float64) float64 { return x / (1 + math.Exp(-2*geluTanhU(x))) }

func refGeluTanhD(x float64) float64 {
	u := geluTanhU(x)
	s, oms := 1/(1+math.Exp(-2*u)), 1/(1+math.Exp(2*u))
	return s + 2*x*s*oms*math.Sqrt(2/math.Pi)*(1+3*0.044715*x*x)
}

func refRelu(x float64) float64 { return math.Max(x, 0) }

func refReluD(x float64) float64 {
	if x > 0 {
		return 1
	}
	return 0
}

func refSqRelu(x float64) float64 { return math.Max(x, 0) * math.Max(x, 0) }

func refSqReluD(x float64) float64 { return 2 * math.Max(x, 0) }

func refSilu(x float64) float64 { return x / (1 + math.Exp(-x)) }

func refSiluD(x float64) float64 {
	s := 1 / (1 + math.Exp(-x))
	return s * (1 + x*(1-s))
}

// within reports whether got matches want to within abs + rel·|want|;
// a NaN want needs a NaN, a want beyond float32's range the infinity of
// its sign.
func within(got float32, want, rel, abs float64) bool {
	g := float64(got)
	switch {
	case math.IsNaN(want):
		return math.IsNaN(g)
	case math.Abs(want) > f32Max: // overflows float32
		return math.IsInf(g, 0) && math.Signbit(g) == math.Signbit(want)
	}
	return math.Abs(g-want) <= abs+rel*math.Abs(want)
}

// expOK checks e^x: relative error 2.5e-7 in the normal range, 2^-126
// absolute below it, and +Inf or the float32 maximum near the top.
func expOK(_ *vecImpl, got float32, x float64) bool {
	want := math.Exp(x)
	if math.IsNaN(x) {
		return math.IsNaN(float64(got))
	}
	if want > f32Max {
		return math.IsInf(float64(got), 1)
	}
	if x > 88.7 && math.IsInf(float64(got), 1) {
		return true
	}
	return within(got, want, 2.5e-7, f32Tiny)
}

// actTol is the activation tolerance. The assembly keeps relative accuracy
// in the tails, where the rounding of the float32 exp argument (about x²)
// dominates; the generic code (A&S 7.1.26 erf, float64 tanh) is accurate
// to 2.5e-7 absolute only.
func actTol(v *vecImpl, x float64) (rel, abs float64) {
	rel = 6e-7
	if !math.IsNaN(x) {
		rel += 1.2e-7 * min(x*x, 200)
	}
	if v.name == "generic" {
		return rel, 2.5e-7
	}
	return rel, 1e-30
}

type unaryKernel struct {
	name string
	fn   func(v *vecImpl) func(dst, src []float32)
	ok   func(v *vecImpl, got float32, x float64) bool
}

func actOK(ref func(float64) float64) func(*vecImpl, float32, float64) bool {
	return func(v *vecImpl, got float32, x float64) bool {
		rel, abs := actTol(v, x)
		return within(got, ref(x), rel, abs)
	}
}

var unaryKernels = []unaryKernel{
	{"exp", func(v *vecImpl) func(dst, src []float32) { return v.exp }, expOK},
	{"scale", func(v *vecImpl) func(dst, src []float32) {
		return func(dst, src []float32) { v.scale(dst, src, 0.375) }
	}, func(_ *vecImpl, got float32, x float64) bool { return within(got, 0.375*x, 6e-8, f32Tiny) }},
	{"relu", func(v *vecImpl) func(dst, src []float32) { return v.relu.fwd }, actOK(refRelu)},
	{"sqrelu", func(v *vecImpl) func(dst, src []float32) { return v.sqRelu.fwd }, actOK(refSqRelu)},
	{"gelu", func(v *vecImpl) func(dst, src []float32) { return v.gelu.fwd }, actOK(refGelu)},
	{"gelu_tanh", func(v *vecImpl) func(dst, src []float32) { return v.geluTanh.fwd }, actOK(refGeluTanh)},
	{"silu", func(v *vecImpl) func(dst, src []float32) { return v.silu.fwd }, actOK(refSilu)},
}

type derivKernel struct {
	name string
	act  Act
	d, f func(float64) float64
}

var derivKernels = []derivKernel{
	{"relu", ActReLU, refReluD, refRelu},
	{"sqrelu", ActSqReLU, refSqReluD, refSqRelu},
	{"gelu", ActGELU, refGeluD, refGelu},
	{"gelu_tanh", ActGELUTanh, refGeluTanhD, refGeluTanh},
	{"silu", ActSiLU, refSiluD, refSilu},
}

// vecSpecials are edge inputs mixed into every test vector.
var vecSpecials = []float32{
	float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)),
	1e-45, -3e-39, 1e-38, f32Max, -f32Max, 1e20, -1e20, 88.5, 88.72, 88.73, 89, -87.2, -87.4, -100, -104, -110,
	9.5, -9.5, 15, -15, 0.5, -0.5,
}

// vecInputs returns n inputs: specials, then uniform in [-scale, scale).
func vecInputs(n int, seed uint64, scale float64) []float32 {
	r := newRand(seed)
	x := make([]float32, n)
	for i := range x {
		if r.IntN(4) == 0 {
			x[i] = vecSpecials[r.IntN(len(vecSpecials))]
		} else {
			x[i] = float32(scale * (2*r.Float64() - 1))
		}
	}
	return x
}

const sentinel = 0x7fa1b2c3 // a NaN bit pattern no kernel writes

// guarded holds a slice with 8 sentinel elements on each side.
type guarded struct{ buf, s []float32 }

func newGuarded(vals []float32, off int) guarded {
	buf := make([]float32, 8+off+len(vals)+8)
	for i := range buf {
		buf[i] = math.Float32frombits(sentinel)
	}
	s := buf[8+off : 8+off+len(vals) : 8+off+len(vals)]
	copy(s, vals)
	return guarded{buf, s}
}

// intact reports whether every element of buf outside s still holds the
// sentinel.
func (g guarded) intact() bool {
	lo := len(g.buf) - 8 - len(g.s) // index of s[0] in buf
	for i, v := range g.buf {
		if (i < lo || i >= lo+len(g.s)) && math.Float32bits(v) != sentinel {
			return false
		}
	}
	return true
}

// vecLengths covers every tail of one, two and three 16-lane vectors.
const vecMaxLen = 3*16 + 5

func TestVecUnary(t *testing.T) {
	forEachVec(t, func(t *testing.T, v *vecImpl) {
		for _, k := range unaryKernels {
			fn := k.fn(v)
			for n := 0; n <= vecMaxLen; n++ {
				for off := 0; off <= 3; off++ {
					xs := vecInputs(n, uint64(100*n+off), 12)
					for _, inPlace := range []bool{false, true} {
						x := newGuarded(xs, off)
						y := x
						if !inPlace {
							y = newGuarded(make([]float32, n), 3-off)
						}
						fn(y.s, x.s)
						if !x.intact() || !y.intact() {
							t.Fatalf("%s n=%d off=%d inPlace=%v: wrote outside the slice", k.name, n, off, inPlace)
						}
						if !inPlace {
							for i := range xs {
								if math.Float32bits(x.s[i]) != math.Float32bits(xs[i]) {
									t.Fatalf("%s n=%d: changed its input", k.name, n)
								}
							}
						}
						for i, xv := range xs {
							if !k.ok(v, y.s[i], float64(xv)) {
								t.Fatalf("%s n=%d off=%d i=%d: f(%g) = %g", k.name, n, off, i, xv, y.s[i])
							}
						}
					}
				}
			}
		}
	})
}

func TestVecDeriv(t *testing.T) {
	forEachVec(t, func(t *testing.T, v *vecImpl) {
		for _, k := range derivKernels {
			fn := v.act(k.act).deriv
			for n := 0; n <= vecMaxLen; n++ {
				for off := 0; off <= 3; off++ {
					xs := vecInputs(n, uint64(100*n+off+7), 12)
					x := newGuarded(xs, off)
					d := newGuarded(make([]float32, n), (off+1)%4)
					f := newGuarded(make([]float32, n), (off+2)%4)
					fn(d.s, f.s, x.s)
					if !x.intact() || !d.intact() || !f.intact() {
						t.Fatalf("%s' n=%d off=%d: wrote outside the slices", k.name, n, off)
					}
					for i, xv := range xs {
						if math.Float32bits(x.s[i]) != math.Float32bits(xv) {
							t.Fatalf("%s' n=%d: changed its input", k.name, n)
						}
						xf := float64(xv)
						// The derivative crosses zero (GELU near -0.75), so it
						// also gets an absolute tolerance.
						if rel, abs := actTol(v, xf); !within(d.s[i], k.d(xf), 2*rel, max(abs, 2e-7)) {
							t.Fatalf("%s' n=%d i=%d: d(%g) = %g, want %g", k.name, n, i, xv, d.s[i], k.d(xf))
						}
						if rel, abs := actTol(v, xf); !within(f.s[i], k.f(xf), rel, abs) {
							t.Fatalf("%s' n=%d i=%d: f(%g) = %g, want %g", k.name, n, i, xv, f.s[i], k.f(xf))
						}
					}
				}
			}
		}
	})
}

// fusedOK checks init + c·ref, where ref (an activation or its derivative
// at x) has tolerance rel, abs and the sum rounds once more.
func fusedOK(got float32, init, c, ref, rel, abs float64) bool {
	if math.Abs(ref) > f32Max && c != 0 { // ref itself overflows float32
		return math.IsInf(float64(got), 0) && math.Signbit(float64(got)) == math.Signbit(c*ref)
	}
	bound := math.Abs(c)*(rel*math.Abs(ref)+abs) + 1.2e-7*(math.Abs(init)+math.Abs(c*ref))
	return within(got, init+c*ref, 0, bound)
}

// finiteInputs returns n values uniform in [-1, 1).
func finiteInputs(n int, seed uint64) []float32 {
	r := newRand(seed)
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(2*r.Float64() - 1)
	}
	return x
}

// TestVecActFused checks the backward and GLU kernels: dx += dy·act'(x),
// y = act(g)·u, and dg += dy·u·act'(g), du += dy·act(g).
func TestVecActFused(t *testing.T) {
	forEachVec(t, func(t *testing.T, v *vecImpl) {
		for _, k := range derivKernels {
			a := v.act(k.act)
			for n := 0; n <= vecMaxLen; n++ {
				for off := 0; off <= 3; off++ {
					seed := uint64(1000*n + 10*off)
					xs := vecInputs(n, seed, 8)
					dys, us := finiteInputs(n, seed+1), finiteInputs(n, seed+2)
					dx0, du0 := finiteInputs(n, seed+3), finiteInputs(n, seed+4)
					x, dy, u := newGuarded(xs, off), newGuarded(dys, (off+1)%4), newGuarded(us, (off+2)%4)
					dx, y, du := newGuarded(dx0, (off+3)%4), newGuarded(make([]float32, n), off), newGuarded(du0, 3-off)
					a.bwd(dx.s, dy.s, x.s)
					a.glu(y.s, x.s, u.s)
					if !x.intact() || !dy.intact() || !u.intact() || !dx.intact() || !y.intact() {
						t.Fatalf("%s n=%d off=%d: bwd or glu wrote outside the slices", k.name, n, off)
					}
					for i, xv := range xs {
						xf := float64(xv)
						rel, abs := actTol(v, xf)
						if !fusedOK(dx.s[i], float64(dx0[i]), float64(dys[i]), k.d(xf), 2*rel, max(abs, 2e-7)) {
							t.Fatalf("%s bwd n=%d i=%d x=%g: dx %g, want %g", k.name, n, i, xv, dx.s[i], float64(dx0[i])+float64(dys[i])*k.d(xf))
						}
						if !fusedOK(y.s[i], 0, float64(us[i]), k.f(xf), rel, abs) {
							t.Fatalf("%s glu n=%d i=%d x=%g: y %g, want %g", k.name, n, i, xv, y.s[i], float64(us[i])*k.f(xf))
						}
					}
					dg := newGuarded(dx0, (off+3)%4)
					a.gluBwd(dg.s, du.s, dy.s, x.s, u.s)
					if !x.intact() || !dy.intact() || !u.intact() || !dg.intact() || !du.intact() {
						t.Fatalf("%s n=%d off=%d: glu bwd wrote outside the slices", k.name, n, off)
					}
					for i, xv := range xs {
						xf := float64(xv)
						rel, abs := actTol(v, xf)
						c := float64(dys[i]) * float64(us[i])
						if !fusedOK(dg.s[i], float64(dx0[i]), c, k.d(xf), 2*rel, max(abs, 2e-7)+1.2e-7*math.Abs(k.d(xf))) {
							t.Fatalf("%s glu bwd n=%d i=%d x=%g: dg %g, want %g", k.name, n, i, xv, dg.s[i], float64(dx0[i])+c*k.d(xf))
						}
						if !fusedOK(du.s[i], float64(du0[i]), float64(dys[i]), k.f(xf), rel, abs) {
							t.Fatalf("%s glu bwd n=%d i=%d x=%g: du %g, want %g", k.name, n, i, xv, du.s[i], float64(du0[i])+float64(dys[i])*k.f(xf))
						}
					}
				}
			}
		}
	})
}

// expSubTol is the error of e^(x-m) when x-m is rounded to float32.
func expSubTol(x, m float64) float64 { return 2.5e-7 + 6e-8*math.Abs(x-m) }

func TestVecExpSub(t *testing.T) {
	forEachVec(t, func(t *testing.T, v *vecImpl) {
		for n := 0; n <= vecMaxLen; n++ {
			for off := 0; off <= 3; off++ {
				xs := vecInputs(n, uint64(100*n+off+3), 30)
				for i, xv := range xs {
					if math.IsNaN(float64(xv)) || math.IsInf(float64(xv), 0) || math.Abs(float64(xv)) > 1e4 {
						xs[i] = 1 // rows of logits are finite
					}
				}
				const m = 7.25
				x := newGuarded(xs, off)
				y := newGuarded(make([]float32, n), 3-off)
				s := v.expSubSum(y.s, x.s, m)
				s2 := v.expSum(x.s, m)
				init := vecInputs(n, uint64(n+off+11), 1)
				for i, iv := range init {
					if math.IsNaN(float64(iv)) || math.Abs(float64(iv)) > 1 {
						init[i] = 0.25
					}
				}
				acc := newGuarded(init, (off+1)%4)
				const sc = -0.375
				v.expSubAcc(acc.s, x.s, m, sc)
				if !x.intact() || !y.intact() || !acc.intact() {
					t.Fatalf("n=%d off=%d: wrote outside the slices", n, off)
				}
				var want float64
				for i, xv := range xs {
					xf := float64(xv)
					e := math.Exp(xf - m)
					want += e
					if !within(y.s[i], e, expSubTol(xf, m), f32Tiny) {
						t.Fatalf("expSubSum n=%d i=%d: e^(%g-m) = %g, want %g", n, i, xv, y.s[i], e)
					}
					wa := float64(init[i]) + sc*e
					se := math.Abs(sc * e)
					if !within(acc.s[i], wa, 0, expSubTol(xf, m)*se+1.2e-7*(math.Abs(float64(init[i]))+se)+f32Tiny) {
						t.Fatalf("expSubAcc n=%d i=%d: %g, want %g", n, i, acc.s[i], wa)
					}
				}
				if math.Abs(s-want) > 1e-6*want+float64(n)*f32Tiny {
					t.Fatalf("expSubSum n=%d: sum %g, want %g", n, s, want)
				}
				if math.Abs(s2-want) > 1e-6*want+float64(n)*f32Tiny {
					t.Fatalf("expSum n=%d: sum %g, want %g", n, s2, want)
				}
			}
		}
	})
}

// normInputs returns n finite values: mostly uniform in [-2, 2), some
// zeros, denormals and values near ±1e4.
func normInputs(n int, seed uint64) []float32 {
	r := newRand(seed)
	x := make([]float32, n)
	special := []float32{0, float32(math.Copysign(0, -1)), 1e-45, -3e-39, 1e4, -1.5e4}
	for i := range x {
		if r.IntN(6) == 0 {
			x[i] = special[r.IntN(len(special))]
		} else {
			x[i] = float32(4*r.Float64() - 2)
		}
	}
	return x
}

// near checks got against a float64 reference whose terms sum to mag in
// absolute value: a few float32 roundings of the terms.
func near(got, want, mag float64) bool {
	return math.Abs(got-want) <= 3.6e-7*mag+f32Tiny
}

// TestVecNorm checks the reductions and norm kernels against float64 loops.
func TestVecNorm(t *testing.T) {
	forEachVec(t, func(t *testing.T, v *vecImpl) {
		for n := 0; n <= vecMaxLen; n++ {
			for off := 0; off <= 3; off++ {
				seed := uint64(500*n + off)
				xs, dys, gs, bs := normInputs(n, seed), normInputs(n, seed+1), normInputs(n, seed+2), normInputs(n, seed+3)
				a0, b0 := normInputs(n, seed+4), normInputs(n, seed+5)
				x, dy := newGuarded(xs, off), newGuarded(dys, (off+1)%4)
				g, b := newGuarded(gs, (off+2)%4), newGuarded(bs, (off+3)%4)
				const m, sc, k, m1, m2 = 0.25, 1.5, 0.125, -0.375, 0.0625
				fail := func(what string, i int, got, want float64) {
					t.Helper()
					t.Fatalf("%s n=%d off=%d i=%d: got %g, want %g", what, n, off, i, got, want)
				}

				var sum, sumMag, sq, dot, dotMag float64
				for i := range xs {
					x, y, z := float64(xs[i]), float64(dys[i]), float64(gs[i])
					sum += x
					sumMag += math.Abs(x)
					sq += (x - m) * (x - m)
					dot += x * y * z
					dotMag += math.Abs(x * y * z)
				}
				if got := v.sum(x.s); !near(got, sum, 1e-8*sumMag) {
					fail("sum", -1, got, sum)
				}
				if got := v.sumSq(x.s, m); !near(got, sq, sq) {
					fail("sumSq", -1, got, sq)
				}
				if got := v.dot3(x.s, dy.s, g.s); !near(got, dot, dotMag) {
					fail("dot3", -1, got, dot)
				}

				y := newGuarded(make([]float32, n), 3-off)
				v.rmsNorm(y.s, x.s, g.s, sc)
				for i := range xs {
					w := float64(xs[i]) * sc * float64(gs[i])
					if !near(float64(y.s[i]), w, math.Abs(w)) {
						fail("rmsNorm", i, float64(y.s[i]), w)
					}
				}
				dx, dg := newGuarded(a0, off), newGuarded(b0, 3-off)
				v.rmsNormBwd(dx.s, dg.s, x.s, dy.s, g.s, sc, k)
				for i := range xs {
					xv, dyv, gv := float64(xs[i]), float64(dys[i]), float64(gs[i])
					w := float64(a0[i]) + sc*gv*dyv - k*xv
					if !near(float64(dx.s[i]), w, math.Abs(float64(a0[i]))+math.Abs(sc*gv*dyv)+math.Abs(k*xv)) {
						fail("rmsNormBwd dx", i, float64(dx.s[i]), w)
					}
					w = float64(b0[i]) + dyv*xv*sc
					if !near(float64(dg.s[i]), w, math.Abs(float64(b0[i]))+math.Abs(dyv*xv*sc)) {
						fail("rmsNormBwd dg", i, float64(dg.s[i]), w)
					}
				}

				v.layerNorm(y.s, x.s, g.s, b.s, m, sc)
				for i := range xs {
					t := (float64(xs[i]) - m) * sc * float64(gs[i])
					w := t + float64(bs[i])
					if !near(float64(y.s[i]), w, 2*math.Abs(t)+math.Abs(float64(bs[i]))) {
						fail("layerNorm", i, float64(y.s[i]), w)
					}
				}
				dg, db := newGuarded(a0, off), newGuarded(b0, 3-off)
				s1, s2 := v.layerNormBwdSums(dg.s, db.s, x.s, dy.s, g.s, m, sc)
				var w1, w2, mag1, mag2 float64
				for i := range xs {
					xh := (float64(xs[i]) - m) * sc
					dyv, gv := float64(dys[i]), float64(gs[i])
					w1 += dyv * gv
					w2 += dyv * gv * xh
					mag1 += math.Abs(dyv * gv)
					mag2 += 2 * math.Abs(dyv*gv*xh)
					w := float64(a0[i]) + dyv*xh
					if !near(float64(dg.s[i]), w, math.Abs(float64(a0[i]))+2*math.Abs(dyv*xh)) {
						fail("layerNormBwdSums dg", i, float64(dg.s[i]), w)
					}
					w = float64(b0[i]) + dyv
					if !near(float64(db.s[i]), w, math.Abs(w)) {
						fail("layerNormBwdSums db", i, float64(db.s[i]), w)
					}
				}
				if !near(s1, w1, mag1) || !near(s2, w2, mag2) {
					t.Fatalf("layerNormBwdSums n=%d off=%d: sums %g %g, want %g %g", n, off, s1, s2, w1, w2)
				}
				dx = newGuarded(a0, (off+2)%4)
				v.layerNormBwdDx(dx.s, x.s, dy.s, g.s, m, sc, m1, m2)
				for i := range xs {
					xh := (float64(xs[i]) - m) * sc
					p := float64(dys[i]) * float64(gs[i])
					w := float64(a0[i]) + sc*(p-m1-xh*m2)
					mag := math.Abs(float64(a0[i])) + 2*sc*(math.Abs(p)+math.Abs(m1)+2*math.Abs(xh*m2))
					if !near(float64(dx.s[i]), w, mag) {
						fail("layerNormBwdDx", i, float64(dx.s[i]), w)
					}
				}
				for _, gb := range []guarded{x, dy, g, b, y, dx, dg, db} {
					if !gb.intact() {
						t.Fatalf("n=%d off=%d: a norm kernel wrote outside its slices", n, off)
					}
				}
				for i := range xs {
					if math.Float32bits(x.s[i]) != math.Float32bits(xs[i]) || math.Float32bits(dy.s[i]) != math.Float32bits(dys[i]) ||
						math.Float32bits(g.s[i]) != math.Float32bits(gs[i]) || math.Float32bits(b.s[i]) != math.Float32bits(bs[i]) {
						t.Fatalf("n=%d off=%d: a norm kernel changed an input", n, off)
					}
				}
			}
		}
		// NaN and Inf reach the sums.
		nan := []float32{1, float32(math.NaN()), 2}
		if !math.IsNaN(v.sum(nan)) || !math.IsNaN(v.sumSq(nan, 0)) || !math.IsNaN(v.dot3(nan, nan, nan)) {
			t.Fatal("a NaN input does not make the sum NaN")
		}
		if inf := []float32{1, float32(math.Inf(-1))}; !math.IsInf(v.sum(inf), -1) || !math.IsInf(v.sumSq(inf, 0), 1) {
			t.Fatal("an infinite input does not make the sum infinite")
		}
	})
}

// TestVecAdd checks y = a + b (exact: float32(float64(a)+float64(b)) is the
// correctly rounded sum) and the non-finite scan.
func TestVecAdd(t *testing.T) {
	forEachVec(t, func(t *testing.T, v *vecImpl) {
		for n := 0; n <= vecMaxLen; n++ {
			for off := 0; off <= 3; off++ {
				as, bs := vecInputs(n, uint64(30*n+off), 1e3), vecInputs(n, uint64(30*n+off+1), 1e-3)
				a, b := newGuarded(as, off), newGuarded(bs, 3-off)
				y := newGuarded(make([]float32, n), (off+1)%4)
				v.add(y.s, a.s, b.s)
				v.add(b.s, a.s, b.s) // in place
				if !a.intact() || !b.intact() || !y.intact() {
					t.Fatalf("add n=%d off=%d: wrote outside the slices", n, off)
				}
				finite := true
				for i := range as {
					w := float32(float64(as[i]) + float64(bs[i]))
					for _, got := range []float32{y.s[i], b.s[i]} {
						if math.Float32bits(got) != math.Float32bits(w) && !(math.IsNaN(float64(got)) && math.IsNaN(float64(w))) {
							t.Fatalf("add n=%d i=%d: %g + %g = %g, want %g", n, i, as[i], bs[i], got, w)
						}
					}
					finite = finite && !math.IsNaN(float64(as[i])) && !math.IsInf(float64(as[i]), 0)
				}
				nf := v.nonFinite(a.s)
				if finite && nf != 0 || !finite && !math.IsNaN(nf) {
					t.Fatalf("nonFinite n=%d off=%d: %g with finite=%v", n, off, nf, finite)
				}
			}
		}
	})
}

// TestVecMax checks vmax against a float64 loop.
func TestVecMax(t *testing.T) {
	forEachVec(t, func(t *testing.T, v *vecImpl) {
		for n := 0; n <= vecMaxLen; n++ {
			for off := 0; off <= 3; off++ {
				for si, scale := range []float64{1e-40, 1, 1e30} {
					xs := vecInputs(n, uint64(70*n+10*off+si), scale)
					if scale != 1 { // no specials: NaN only in the scale-1 vectors
						xs = finiteInputs(n, uint64(n+off))
						for i := range xs {
							xs[i] *= float32(scale)
						}
					}
					if n > 0 && off == 3 {
						xs[n-1] = float32(math.Inf(-1))
					}
					want := math.Inf(-1)
					for _, x := range xs {
						if math.IsNaN(float64(x)) || math.IsNaN(want) {
							want = math.NaN()
						} else {
							want = math.Max(want, float64(x))
						}
					}
					x := newGuarded(xs, off)
					got := float64(v.max(x.s))
					if !(got == want || math.IsNaN(got) && math.IsNaN(want)) {
						t.Fatalf("n=%d off=%d scale=%g: max %g, want %g", n, off, scale, got, want)
					}
				}
			}
		}
		// A NaN in any lane, first or last, in the main loop or the tail.
		for n := 1; n <= 40; n++ {
			for _, i := range []int{0, n / 2, n - 1} {
				x := finiteInputs(n, uint64(n))
				x[i] = float32(math.NaN())
				if !math.IsNaN(float64(v.max(x))) {
					t.Fatalf("n=%d: NaN at %d not reported", n, i)
				}
			}
		}
	})
}

// TestVecAccuracy sweeps each kernel densely and checks the documented
// error bounds.
func TestVecAccuracy(t *testing.T) {
	forEachVec(t, func(t *testing.T, v *vecImpl) {
		const n = 1 << 16
		x := make([]float32, n)
		y := make([]float32, n)
		d := make([]float32, n)
		// exp on [-87, 88]: relative error.
		for i := range x {
			x[i] = float32(-87 + 175*float64(i)/n)
		}
		v.exp(y, x)
		worst := 0.0
		for i, xv := range x {
			w := math.Exp(float64(xv))
			worst = max(worst, math.Abs(float64(y[i])-w)/w)
		}
		t.Logf("exp: max relative error %.3g on [-87, 88]", worst)
		if worst > 1.5e-7 {
			t.Errorf("exp: max relative error %g > 1.5e-7", worst)
		}
		asm := v.name != "generic"
		if asm {
			// The assembly rounds through the denormals (generic: 0 below -87.3).
			for i := range x {
				x[i] = float32(-103 + 15.5*float64(i)/n)
			}
			v.exp(y, x)
			for i, xv := range x {
				if w := math.Exp(float64(xv)); math.Abs(float64(y[i])-w) > 0x1p-149+2e-7*w {
					t.Fatalf("exp(%g) = %g, want %g", xv, y[i], w)
				}
			}
			// GELU keeps its relative accuracy in the negative tail.
			for i := range x {
				x[i] = float32(-13 + 13*float64(i)/n)
			}
			v.gelu.fwd(y, x)
			wr := 0.0
			for i, xv := range x {
				w := refGelu(float64(xv))
				if math.Abs(w) > 1e-30 {
					wr = max(wr, math.Abs(float64(y[i])-w)/math.Abs(w))
				}
			}
			t.Logf("gelu: max relative error %.3g on [-13, 0)", wr)
			if wr > 1e-5 {
				t.Errorf("gelu: max relative error %g on [-13, 0) > 1e-5", wr)
			}
		}
		for _, k := range derivKernels {
			for i := range x {
				x[i] = float32(-10 + 20*float64(i)/n)
			}
			v.act(k.act).deriv(d, y, x)
			var wf, wd float64
			for i, xv := range x {
				xf := float64(xv)
				wf = max(wf, math.Abs(float64(y[i])-k.f(xf))/(1+math.Abs(k.f(xf))))
				wd = max(wd, math.Abs(float64(d[i])-k.d(xf))/(1+math.Abs(k.d(xf))))
			}
			t.Logf("%s: max error %.3g, derivative %.3g (|err|/(1+|ref|) on [-10, 10])", k.name, wf, wd)
			// Generic GELU carries A&S 7.1.26's 1.5e-7 erf error.
			if lim := 2e-7 + 1e-7*b2f(!asm); wf > lim || wd > 2e-7 {
				t.Errorf("%s: max error %g (derivative %g) over %g (2e-7)", k.name, wf, wd, lim)
			}
		}
	})
}

func BenchmarkVec(b *testing.B) {
	const n = 4096
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(-6 + 12*float64(i)/n)
	}
	y, d := make([]float32, n), make([]float32, n)
	for _, v := range vecImpls {
		if !v.available {
			continue
		}
		run := func(name string, f func()) {
			b.Run(fmt.Sprintf("%s/%s", name, v.name), func(b *testing.B) {
				for b.Loop() {
					f()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/elem")
			})
		}
		for _, k := range unaryKernels {
			fn := k.fn(v)
			run(k.name, func() { fn(y, x) })
		}
		for _, k := range derivKernels {
			a := v.act(k.act)
			run(k.name+"_deriv", func() { a.deriv(d, y, x) })
			run(k.name+"_bwd", func() { a.bwd(d, y, x) })
			run(k.name+"_glu_bwd", func() { a.gluBwd(d, y, x, x, x) })
		}
		run("exp_sub_sum", func() { v.expSubSum(y, x, 6) })
		run("exp_sum", func() { v.expSum(x, 6) })
		run("max", func() { v.max(x) })
		run("add", func() { v.add(y, x, d) })
		run("axpy", func() { v.axpy(y, x, 0.5) })
		run("dot", func() { v.dot(x, y) })
		run("non_finite", func() { v.nonFinite(x) })
		run("sum", func() { v.sum(x) })
		run("sum_sq", func() { v.sumSq(x, 0.5) })
		run("dot3", func() { v.dot3(x, y, d) })
		run("rms_norm", func() { v.rmsNorm(y, x, d, 0.5) })
		run("rms_norm_bwd", func() { v.rmsNormBwd(y, d, x, x, x, 0.5, 1e-3) })
		run("layer_norm", func() { v.layerNorm(y, x, d, x, 0.1, 0.5) })
		run("layer_norm_bwd_sums", func() { v.layerNormBwdSums(y, d, x, x, x, 0.1, 0.5) })
		run("layer_norm_bwd_dx", func() { v.layerNormBwdDx(y, x, x, x, 0.1, 0.5, 0.01, 0.02) })
		run("exp_sub_acc", func() { v.expSubAcc(y, x, 6, 1e-3) })
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// TestVecAxpyDot checks dst += s·src and Σ a·b against float64 loops, with
// the guards, offsets and special inputs of the other kernels: axpy to
// two float32 roundings of each term (one on FMA), dot to a few roundings
// of the products' magnitudes; NaN and ±Inf propagate.
func TestVecAxpyDot(t *testing.T) {
	forEachVec(t, func(t *testing.T, v *vecImpl) {
		const s = -0.625
		for n := 0; n <= vecMaxLen; n++ {
			for off := 0; off <= 3; off++ {
				xs, ds := vecInputs(n, uint64(40*n+off), 1e3), vecInputs(n, uint64(40*n+off+1), 1e2)
				x, d := newGuarded(xs, off), newGuarded(ds, 3-off)
				v.axpy(d.s, x.s, s)
				if !x.intact() || !d.intact() {
					t.Fatalf("axpy n=%d off=%d: wrote outside the slices", n, off)
				}
				for i := range xs {
					want := float64(ds[i]) + s*float64(xs[i])
					mag := math.Abs(float64(ds[i])) + math.Abs(s*float64(xs[i]))
					if !within(d.s[i], want, 0, 1.2e-7*mag+f32Tiny) {
						t.Fatalf("axpy n=%d i=%d: %g + %g·%g = %g, want %g", n, i, ds[i], s, xs[i], d.s[i], want)
					}
					if math.Float32bits(x.s[i]) != math.Float32bits(xs[i]) {
						t.Fatalf("axpy n=%d: changed src", n)
					}
				}
				// dot on finite inputs against float64, then with NaN and Inf.
				as, bs := normInputs(n, uint64(50*n+off)), normInputs(n, uint64(50*n+off+1))
				a, b := newGuarded(as, off), newGuarded(bs, (off+1)%4)
				var dot, mag float64
				for i := range as {
					p := float64(as[i]) * float64(bs[i])
					dot += p
					mag += math.Abs(p)
				}
				if got := v.dot(a.s, b.s); !near(got, dot, mag) {
					t.Fatalf("dot n=%d off=%d: got %g, want %g", n, off, got, dot)
				}
				if n > 0 {
					as[n/2] = float32(math.NaN())
					if got := v.dot(newGuarded(as, off).s, b.s); !math.IsNaN(got) {
						t.Fatalf("dot n=%d: a NaN gives %g", n, got)
					}
					as[n/2], bs[n/2] = float32(math.Inf(1)), 2
					if got := v.dot(newGuarded(as, off).s, newGuarded(bs, off).s); !math.IsInf(got, 1) {
						t.Fatalf("dot n=%d: +Inf·2 gives %g", n, got)
					}
				}
			}
		}
	})
}
