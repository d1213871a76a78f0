// Command vecmath writes vecmath_amd64.s and its Go stubs: bfc's float32
// element-wise kernels (exp and softmax helpers; ReLU, squared ReLU, GELU,
// GELU-tanh and SiLU with their derivative, backward and GLU forms; norm
// reductions and updates; add, scale, max) for AVX-512F (16 lanes, masked
// tail) and AVX2+FMA (8 lanes, VMASKMOVPS tail). Run from runtime/kernels
// by go generate; the output must not change from run to run.
package main

import (
	"fmt"
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// isa describes one vector instruction set.
type isa struct {
	name string // function name suffix
	w    int    // float32 lanes
	v512 bool
}

var (
	avx512 = isa{"AVX512", 16, true}
	avx2   = isa{"AVX2", 8, false}
)

// Constants live in RODATA as 16 copies (64 bytes); AVX2 reads the first 32.
var (
	consts    = map[string]Mem{}
	constList []string
	constVal  = map[string]uint32{}
)

func cst(name string, v uint32) Mem {
	if m, ok := consts[name]; ok {
		if constVal[name] != v {
			panic("constant " + name + " redefined")
		}
		return m
	}
	consts[name] = NewDataAddr(Symbol{Name: "vm_" + name, Static: true}, 0)
	constVal[name] = v
	constList = append(constList, name)
	return consts[name]
}

func cf(name string, v float32) Mem { return cst(name, math.Float32bits(v)) }

func emitConsts() {
	for _, name := range constList {
		GLOBL("vm_"+name, RODATA|NOPTR)
		for i := range 16 {
			DATA(4*i, U32(constVal[name]))
		}
	}
	// iota: lane indices for tail masks.
	GLOBL("vm_iota", RODATA|NOPTR)
	for i := range 16 {
		DATA(4*i, U32(uint32(i)))
	}
}

var iotaMem = NewDataAddr(Symbol{Name: "vm_iota", Static: true}, 0)

// g emits code for one function of one ISA.
type g struct {
	isa
}

func (g *g) vec() reg.VecVirtual {
	if g.v512 {
		return ZMM()
	}
	return YMM()
}

// zero clears r (VXORPS on ZMM would need AVX512DQ).
func (g *g) zero(r reg.VecVirtual) {
	if g.v512 {
		VPXORD(r, r, r)
	} else {
		VXORPS(r, r, r)
	}
}

// load returns a register holding constant m.
func (g *g) load(m Mem) reg.VecVirtual {
	r := g.vec()
	VMOVUPS(m, r)
	return r
}

func (g *g) add(a, b Op) reg.VecVirtual { r := g.vec(); VADDPS(b, a, r); return r }
func (g *g) sub(a, b Op) reg.VecVirtual { r := g.vec(); VSUBPS(b, a, r); return r }
func (g *g) mul(a, b Op) reg.VecVirtual { r := g.vec(); VMULPS(b, a, r); return r }
func (g *g) div(a, b Op) reg.VecVirtual { r := g.vec(); VDIVPS(b, a, r); return r }

// maxNaN returns max(a, x) and minNaN min(a, x), x if x is NaN.
func (g *g) maxNaN(x, a reg.VecVirtual) reg.VecVirtual { r := g.vec(); VMAXPS(x, a, r); return r }
func (g *g) minNaN(x, a reg.VecVirtual) reg.VecVirtual { r := g.vec(); VMINPS(x, a, r); return r }

// horner returns c[0] + x*(c[1] + x*(c[2] + ...)) with c named name0, name1...
func (g *g) horner(x reg.VecVirtual, name string, c []float32) reg.VecVirtual {
	n := len(c) - 1
	p := g.load(cf(fmt.Sprintf("%s%d", name, n), c[n]))
	for i := n - 1; i >= 0; i-- {
		VFMADD213PS(cf(fmt.Sprintf("%s%d", name, i), c[i]), x, p)
	}
	return p
}

// Exp coefficients (SLEEF/Cephes expf): e^r ≈ 1 + r + r²·P(r) on
// |r| <= ln2/2.
var expP = []float32{0.5, 0.166666671633720397949219, 0.0416664853692054748535156,
	0.00833336077630519866943359, 0.00139304355252534151077271, 0.000198527617612853646278381}

// exp returns e^x: clamp to [-104, 88.8] (NaN passes), n = round(x·log2e),
// r = x - n·ln2 in two Cody-Waite steps, polynomial, then scale by 2^n
// (VSCALEFPS, or two exact power-of-two multiplies on AVX2 so that
// overflow gives +Inf and underflow rounds through the denormals).
func (g *g) exp(x reg.VecVirtual) reg.VecVirtual {
	t := g.maxNaN(x, g.load(cf("explo", -104)))
	t = g.minNaN(t, g.load(cf("exphi", 88.8)))
	n := g.mul(t, cf("log2e", float32(math.Log2E)))
	if g.v512 {
		VRNDSCALEPS(Imm(0), n, n)
	} else {
		VROUNDPS(Imm(0), n, n)
	}
	r := t // t is dead from here
	VFNMADD231PS(cf("ln2hi", 0.693359375), n, r)
	VFNMADD231PS(cf("ln2lo", -2.12194440e-4), n, r)
	p := g.horner(r, "expc", expP)
	VFMADD213PS(cf("one", 1), r, p)
	VFMADD213PS(cf("one", 1), r, p)
	y := g.vec()
	if g.v512 {
		VSCALEFPS(n, p, y)
		return y
	}
	ni, h, l := g.vec(), g.vec(), g.vec()
	VCVTTPS2DQ(n, ni)
	VPSRAD(Imm(1), ni, h)
	VPSUBD(h, ni, l)
	VPADDD(cst("bias", 127), h, h)
	VPADDD(cst("bias", 127), l, l)
	VPSLLD(Imm(23), h, h)
	VPSLLD(Imm(23), l, l)
	VMULPS(h, p, y)
	VMULPS(l, y, y)
	return y
}

// recip1p returns 1/(1+e).
func (g *g) recip1p(e reg.VecVirtual) reg.VecVirtual {
	return g.div(g.load(cf("one", 1)), g.add(e, cf("one", 1)))
}

// NR erfcc coefficients: erfc(a) ≈ t·exp(-a² + Q(t)), t = 1/(1+a/2), a >= 0,
// fractional error below 1.2e-7 (Numerical Recipes, Chebyshev fit).
var erfcQ = []float32{-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806,
	0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277}

// geluCDF returns Φ(x) = erfc(-x/√2)/2 and the register holding x/2.
func (g *g) geluCDF(x reg.VecVirtual) (cdf, hx reg.VecVirtual) {
	a := g.vec()
	g.and(cst("absmask", 0x7fffffff), x, a)
	// t = 1/(1 + |x|/(2√2))
	VFMADD213PS(cf("one", 1), g.load(cf("inv2sqrt2", float32(1/(2*math.Sqrt2)))), a)
	t := g.div(g.load(cf("one", 1)), a)
	q := g.horner(t, "erfcq", erfcQ)
	hx = g.mul(x, cf("half", 0.5))
	VFNMADD231PS(x, hx, q) // Q(t) - x²/2
	e := g.exp(q)
	ht := g.mul(t, cf("half", 0.5))
	VMULPS(ht, e, e) // erfc(|x|/√2)/2
	pos := g.sub(g.load(cf("one", 1)), e)
	cdf = g.vec()
	if g.v512 {
		k := K()
		VCMPPS(Imm(0x11), g.load(cf("zero", 0)), x, k) // x < 0 (ordered)
		VBLENDMPS(e, pos, k, cdf)
	} else {
		VBLENDVPS(x, e, pos, cdf) // sign bit of x picks e
	}
	return cdf, hx
}

// and emits dst = src & m.
func (g *g) and(m Mem, src, dst reg.VecVirtual) {
	if g.v512 {
		VPANDD(m, src, dst)
	} else {
		VANDPS(m, src, dst)
	}
}

const (
	sqrt2OverPi = 0.79788456080286535587989211986876373695171726232986
	geluC       = 0.044715
	invSqrt2Pi  = 0.39894228040143267793994605993438186847585863116493
)

// geluTanhS returns s = σ(2u), u = √(2/π)(x + c·x³), 1-s and x².
func (g *g) geluTanhS(x reg.VecVirtual) (s, oms, x2 reg.VecVirtual) {
	x2 = g.mul(x, x)
	w := g.load(cf("gtk2", float32(2*sqrt2OverPi*geluC)))
	VFMADD213PS(cf("gtk1", float32(2*sqrt2OverPi)), x2, w)
	VMULPS(x, w, w) // 2u
	g.flip(cst("signmask", 0x80000000), w)
	s, oms = g.sigmoidE(g.exp(w))
	return s, oms, x2
}

// sigmoidE returns s = 1/(1+e) and 1-s = e·s, which keeps its relative
// accuracy as s nears 1; where e·s is NaN (e = +Inf) 1-s is 1.
func (g *g) sigmoidE(e reg.VecVirtual) (s, oms reg.VecVirtual) {
	s = g.recip1p(e)
	oms = g.mul(e, s)
	VMINPS(cf("one", 1), oms, oms)
	return s, oms
}

// flip sets r ^= m.
func (g *g) flip(m Mem, r reg.VecVirtual) {
	if g.v512 {
		VPXORD(m, r, r)
	} else {
		VXORPS(m, r, r)
	}
}

func (g *g) neg(x reg.VecVirtual) reg.VecVirtual {
	r := g.vec()
	if g.v512 {
		VPXORD(cst("signmask", 0x80000000), x, r)
	} else {
		VXORPS(cst("signmask", 0x80000000), x, r)
	}
	return r
}

// relu returns max(x, 0), NaN for NaN.
func (g *g) relu(x reg.VecVirtual) reg.VecVirtual {
	return g.maxNaN(x, g.load(cf("zero", 0)))
}

// positive returns v where x > 0 and 0 elsewhere (NaN included).
func (g *g) positive(x reg.VecVirtual, v Mem) reg.VecVirtual {
	r := g.vec()
	if g.v512 {
		k := K()
		VCMPPS(Imm(0x1e), cf("zero", 0), x, k) // x > 0 (ordered)
		VMOVUPS_Z(v, k, r)
	} else {
		VCMPPS(Imm(0x1e), cf("zero", 0), x, r)
		VANDPS(v, r, r)
	}
	return r
}

// A kernel maps, lane by lane, loaded slices to stored ones.
type kernel struct {
	name, doc string
	sig       string
	ins       []string // slices read, in body argument order
	outs      []string // slices written
	scalars   []string // float32 parameters, broadcast
	sums      []bool   // body results after the outputs summed in float64 and returned (true: squares)
	body      func(g *g, in, sc []reg.VecVirtual) []reg.VecVirtual
}

var kernels = []kernel{
	{
		name: "vexp", doc: "sets dst[i] = e^src[i].",
		sig: "func(dst, src []float32)", ins: []string{"src"}, outs: []string{"dst"},
		body: func(g *g, in, _ []reg.VecVirtual) []reg.VecVirtual { return []reg.VecVirtual{g.exp(in[0])} },
	},
	{
		name: "vexpSubSum", doc: "sets dst[i] = e^(src[i]-m) and returns Σ dst in float64.",
		sig: "func(dst, src []float32, m float32) float64", ins: []string{"src"}, outs: []string{"dst"},
		scalars: []string{"m"}, sums: []bool{false},
		body: func(g *g, in, sc []reg.VecVirtual) []reg.VecVirtual {
			e := g.exp(g.sub(in[0], sc[0]))
			return []reg.VecVirtual{e, e}
		},
	},
	{
		name: "vexpSum", doc: "returns Σ e^(src[i]-m) in float64.",
		sig: "func(src []float32, m float32) float64", ins: []string{"src"},
		scalars: []string{"m"}, sums: []bool{false},
		body: func(g *g, in, sc []reg.VecVirtual) []reg.VecVirtual {
			return []reg.VecVirtual{g.exp(g.sub(in[0], sc[0]))}
		},
	},
	{
		name: "vexpSubAcc", doc: "adds s·e^(src[i]-m) to dst[i].",
		sig: "func(dst, src []float32, m, s float32)", ins: []string{"src", "dst"}, outs: []string{"dst"},
		scalars: []string{"m", "s"},
		body: func(g *g, in, sc []reg.VecVirtual) []reg.VecVirtual {
			e := g.exp(g.sub(in[0], sc[0]))
			VFMADD213PS(in[1], sc[1], e)
			return []reg.VecVirtual{e}
		},
	},
	{
		name: "vscale", doc: "sets dst[i] = s·src[i].",
		sig: "func(dst, src []float32, s float32)", ins: []string{"src"}, outs: []string{"dst"},
		scalars: []string{"s"},
		body:    func(g *g, in, sc []reg.VecVirtual) []reg.VecVirtual { return []reg.VecVirtual{g.mul(in[0], sc[0])} },
	},
	{
		name: "vaxpy", doc: "adds s·src[i] to dst[i] (one rounding: FMA).",
		sig: "func(dst, src []float32, s float32)", ins: []string{"src", "dst"}, outs: []string{"dst"},
		scalars: []string{"s"},
		body: func(g *g, in, sc []reg.VecVirtual) []reg.VecVirtual {
			VFMADD213PS(in[1], sc[0], in[0])
			return []reg.VecVirtual{in[0]}
		},
	},
	{
		name: "vdot", doc: "returns Σ a[i]·b[i] in float64 (products in float32).",
		sig: "func(a, b []float32) float64", ins: []string{"a", "b"}, sums: []bool{false},
		body: func(g *g, in, _ []reg.VecVirtual) []reg.VecVirtual {
			return []reg.VecVirtual{g.mul(in[0], in[1])}
		},
	},
	{
		name: "vadd", doc: "sets y[i] = a[i] + b[i].",
		sig: "func(y, a, b []float32)", ins: []string{"a", "b"}, outs: []string{"y"},
		body: func(g *g, in, _ []reg.VecVirtual) []reg.VecVirtual { return []reg.VecVirtual{g.add(in[0], in[1])} },
	},
	{
		name: "vnonFinite", doc: "returns Σ (x[i]-x[i]) in float64: NaN when x holds a NaN or ±Inf, else 0.",
		sig: "func(x []float32) float64", ins: []string{"x"}, sums: []bool{false},
		body: func(g *g, in, _ []reg.VecVirtual) []reg.VecVirtual { return []reg.VecVirtual{g.sub(in[0], in[0])} },
	},
	{
		name: "vsum", doc: "returns Σ x[i] in float64.",
		sig: "func(x []float32) float64", ins: []string{"x"}, sums: []bool{false},
		body: func(g *g, in, _ []reg.VecVirtual) []reg.VecVirtual { return in },
	},
	{
		name: "vsumSq", doc: "returns Σ (x[i]-m)² in float64 (x-m rounded to float32).",
		sig: "func(x []float32, m float32) float64", ins: []string{"x"}, scalars: []string{"m"}, sums: []bool{true},
		body: func(g *g, in, sc []reg.VecVirtual) []reg.VecVirtual {
			return []reg.VecVirtual{g.sub(in[0], sc[0])}
		},
	},
	{
		name: "vdot3", doc: "returns Σ a[i]·b[i]·c[i] in float64 (products in float32).",
		sig: "func(a, b, c []float32) float64", ins: []string{"a", "b", "c"}, sums: []bool{false},
		body: func(g *g, in, _ []reg.VecVirtual) []reg.VecVirtual {
			return []reg.VecVirtual{g.mul(g.mul(in[0], in[1]), in[2])}
		},
	},
	{
		name: "vrmsNorm", doc: "sets y[i] = x[i]·s·g[i].",
		sig: "func(y, x, g []float32, s float32)", ins: []string{"x", "g"}, outs: []string{"y"}, scalars: []string{"s"},
		body: func(g *g, in, sc []reg.VecVirtual) []reg.VecVirtual {
			return []reg.VecVirtual{g.mul(g.mul(in[0], sc[0]), in[1])}
		},
	},
	{
		name: "vrmsNormBwd", doc: "adds s·g[i]·dy[i] - k·x[i] to dx[i] and dy[i]·x[i]·s to dg[i].",
		sig: "func(dx, dg, x, dy, g []float32, s, k float32)", ins: []string{"x", "dy", "g", "dx", "dg"},
		outs: []string{"dx", "dg"}, scalars: []string{"s", "k"},
		body: func(g *g, in, sc []reg.VecVirtual) []reg.VecVirtual {
			x, dy, gg, dx, dg := in[0], in[1], in[2], in[3], in[4]
			a := g.mul(g.mul(gg, sc[0]), dy)
			VFNMADD231PS(x, sc[1], a) // a - k·x
			VADDPS(a, dx, dx)
			b := g.mul(g.mul(dy, x), sc[0])
			VADDPS(b, dg, dg)
			return []reg.VecVirtual{dx, dg}
		},
	},
	{
		name: "vlayerNorm", doc: "sets y[i] = (x[i]-m)·s·g[i] + b[i].",
		sig: "func(y, x, g, b []float32, m, s float32)", ins: []string{"x", "g", "b"}, outs: []string{"y"},
		scalars: []string{"m", "s"},
		body: func(g *g, in, sc []reg.VecVirtual) []reg.VecVirtual {
			y := g.mul(g.mul(g.sub(in[0], sc[0]), sc[1]), in[1])
			VADDPS(in[2], y, y)
			return []reg.VecVirtual{y}
		},
	},
	{
		name: "vlayerNormBwdSums",
		doc:  "adds dy·xh to dg and dy to db, with xh = (x-m)·s, and returns Σ dy·g and Σ dy·g·xh in float64.",
		sig:  "func(dg, db, x, dy, g []float32, m, s float32) (float64, float64)", ins: []string{"x", "dy", "g", "dg", "db"},
		outs: []string{"dg", "db"}, scalars: []string{"m", "s"}, sums: []bool{false, false},
		body: func(g *g, in, sc []reg.VecVirtual) []reg.VecVirtual {
			x, dy, gg, dg, db := in[0], in[1], in[2], in[3], in[4]
			xh := g.mul(g.sub(x, sc[0]), sc[1])
			dxh := g.mul(dy, gg)
			VFMADD231PS(xh, dy, dg)
			VADDPS(dy, db, db)
			return []reg.VecVirtual{dg, db, dxh, g.mul(dxh, xh)}
		},
	},
	{
		name: "vlayerNormBwdDx", doc: "adds s·(dy·g - m1 - xh·m2) to dx, with xh = (x-m)·s.",
		sig: "func(dx, x, dy, g []float32, m, s, m1, m2 float32)", ins: []string{"x", "dy", "g", "dx"},
		outs: []string{"dx"}, scalars: []string{"m", "s", "m1", "m2"},
		body: func(g *g, in, sc []reg.VecVirtual) []reg.VecVirtual {
			x, dy, gg, dx := in[0], in[1], in[2], in[3]
			xh := g.mul(g.sub(x, sc[0]), sc[1])
			t := g.sub(g.mul(dy, gg), sc[2])
			VFNMADD231PS(sc[3], xh, t) // t - xh·m2
			VFMADD231PS(sc[1], t, dx)
			return []reg.VecVirtual{dx}
		},
	},
}

// An activation has a forward body and a derivative body (d = act'(x),
// f = act(x)); each gives five kernels.
type activation struct {
	name, doc string
	fwd       func(g *g, x reg.VecVirtual) reg.VecVirtual
	deriv     func(g *g, x reg.VecVirtual) (d, f reg.VecVirtual)
}

var activations = []activation{
	{
		name: "Relu", doc: "ReLU, max(x, 0)",
		fwd: func(g *g, x reg.VecVirtual) reg.VecVirtual { return g.relu(x) },
		deriv: func(g *g, x reg.VecVirtual) (reg.VecVirtual, reg.VecVirtual) {
			return g.positive(x, cf("one", 1)), g.relu(x)
		},
	},
	{
		name: "SqRelu", doc: "squared ReLU, max(x, 0)²",
		fwd: func(g *g, x reg.VecVirtual) reg.VecVirtual {
			r := g.relu(x)
			return g.mul(r, r)
		},
		deriv: func(g *g, x reg.VecVirtual) (reg.VecVirtual, reg.VecVirtual) {
			r := g.relu(x)
			return g.add(r, r), g.mul(r, r)
		},
	},
	{
		name: "Gelu", doc: "GELU, x·Φ(x)",
		fwd: func(g *g, x reg.VecVirtual) reg.VecVirtual {
			cdf, _ := g.geluCDF(x)
			return g.mul(cdf, x)
		},
		deriv: func(g *g, x reg.VecVirtual) (reg.VecVirtual, reg.VecVirtual) {
			// d = Φ(x) + x·φ(x)
			cdf, hx := g.geluCDF(x)
			f := g.mul(cdf, x)
			g.flip(cst("signmask", 0x80000000), hx)
			VMULPS(x, hx, hx) // -x²/2
			e := g.exp(hx)
			xp := g.mul(x, cf("invsqrt2pi", invSqrt2Pi))
			VFMADD231PS(e, xp, cdf)
			return cdf, f
		},
	},
	{
		name: "GeluTanh", doc: "GELU's tanh form, x·σ(2u) with u = √(2/π)(x+0.044715x³)",
		fwd: func(g *g, x reg.VecVirtual) reg.VecVirtual {
			s, _, _ := g.geluTanhS(x)
			return g.mul(s, x)
		},
		deriv: func(g *g, x reg.VecVirtual) (reg.VecVirtual, reg.VecVirtual) {
			// d = s + x·s(1-s)·2√(2/π)(1+3c·x²); x² capped so that huge x
			// gives 0·finite.
			s, oms, x2 := g.geluTanhS(x)
			VMINPS(cf("x2cap", 1e4), x2, x2)
			w := g.load(cf("gtk3", float32(6*sqrt2OverPi*geluC)))
			VFMADD213PS(cf("gtk1", float32(2*sqrt2OverPi)), x2, w)
			f := g.mul(x, s)
			xs := g.mul(f, oms)
			VFMADD231PS(w, xs, s)
			return s, f
		},
	},
	{
		name: "Silu", doc: "SiLU, x·σ(x)",
		fwd: func(g *g, x reg.VecVirtual) reg.VecVirtual {
			s := g.recip1p(g.exp(g.neg(x)))
			return g.mul(s, x)
		},
		deriv: func(g *g, x reg.VecVirtual) (reg.VecVirtual, reg.VecVirtual) {
			// d = s + x·s·(1-s)
			s, oms := g.sigmoidE(g.exp(g.neg(x)))
			xs := g.mul(x, s)
			VFMADD231PS(oms, xs, s)
			return s, xs
		},
	},
}

func actKernels(a activation) []kernel {
	type vv = []reg.VecVirtual
	return []kernel{
		{
			name: "v" + a.name, doc: "sets dst = act(src) for " + a.doc + ".",
			sig: "func(dst, src []float32)", ins: []string{"src"}, outs: []string{"dst"},
			body: func(g *g, in, _ vv) vv { return vv{a.fwd(g, in[0])} },
		},
		{
			name: "v" + a.name + "Deriv", doc: "sets d = act'(x) and f = act(x) for " + a.doc + ".",
			sig: "func(d, f, x []float32)", ins: []string{"x"}, outs: []string{"d", "f"},
			body: func(g *g, in, _ vv) vv {
				d, f := a.deriv(g, in[0])
				return vv{d, f}
			},
		},
		{
			name: "v" + a.name + "Bwd", doc: "adds dy·act'(x) to dx for " + a.doc + ".",
			sig: "func(dx, dy, x []float32)", ins: []string{"x", "dy", "dx"}, outs: []string{"dx"},
			body: func(g *g, in, _ vv) vv {
				d, _ := a.deriv(g, in[0])
				VFMADD213PS(in[2], in[1], d)
				return vv{d}
			},
		},
		{
			name: "v" + a.name + "Glu", doc: "sets y = act(g)·u for " + a.doc + ".",
			sig: "func(y, g, u []float32)", ins: []string{"g", "u"}, outs: []string{"y"},
			body: func(g *g, in, _ vv) vv { return vv{g.mul(a.fwd(g, in[0]), in[1])} },
		},
		{
			name: "v" + a.name + "GluBwd", doc: "adds dy·u·act'(g) to dg and dy·act(g) to du for " + a.doc + ".",
			sig: "func(dg, du, dy, g, u []float32)", ins: []string{"g", "u", "dy", "dg", "du"}, outs: []string{"dg", "du"},
			body: func(g *g, in, _ vv) vv {
				d, f := a.deriv(g, in[0])
				VMULPS(in[2], d, d)          // dy·act'
				VFMADD213PS(in[3], in[1], d) // ·u + dg
				VFMADD213PS(in[4], in[2], f) // dy·act + du
				return vv{d, f}
			},
		},
	}
}

func (g *g) function(k kernel) {
	name := k.name + g.name
	TEXT(name, NOSPLIT, k.sig)
	Doc(fmt.Sprintf("%s %s", name, k.doc))
	Pragma("noescape")
	ptr := map[string]reg.Register{}
	all := append(append([]string{}, k.outs...), k.ins...)
	for _, s := range all {
		if _, ok := ptr[s]; !ok {
			ptr[s] = Load(Param(s).Base(), GP64())
		}
	}
	n := Load(Param(all[0]).Len(), GP64())
	var sc []reg.VecVirtual
	for _, s := range k.scalars {
		r := g.vec()
		VBROADCASTSS(Load(Param(s), XMM()), r)
		sc = append(sc, r)
	}
	acc := make([][2]reg.VecVirtual, len(k.sums))
	for j := range acc {
		for i := range acc[j] {
			acc[j][i] = g.vec()
			g.zero(acc[j][i])
		}
	}
	i := GP64()
	XORQ(i, i)
	mem := func(s string) Mem { return Mem{Base: ptr[s], Index: i, Scale: 4} }

	// accumulate adds the float32 lanes of y (or their squares) to acc[j]
	// as float64.
	accumulate := func(j int, y reg.VecVirtual) {
		var lo, hi reg.VecVirtual
		if g.v512 {
			lo, hi = ZMM(), ZMM()
			h := YMM()
			VCVTPS2PD(y.AsY(), lo)
			VEXTRACTF64X4(Imm(1), y, h)
			VCVTPS2PD(h, hi)
		} else {
			lo, hi = YMM(), YMM()
			h := XMM()
			VCVTPS2PD(y.AsX(), lo)
			VEXTRACTF128(Imm(1), y, h)
			VCVTPS2PD(h, hi)
		}
		if k.sums[j] {
			VFMADD231PD(lo, lo, acc[j][0])
			VFMADD231PD(hi, hi, acc[j][1])
		} else {
			VADDPD(lo, acc[j][0], acc[j][0])
			VADDPD(hi, acc[j][1], acc[j][1])
		}
	}
	nout := len(k.outs)

	Label("loop")
	rem := GP64()
	MOVQ(n, rem)
	SUBQ(i, rem)
	CMPQ(rem, Imm(uint64(g.w)))
	JL(LabelRef("tail"))
	var in []reg.VecVirtual
	for _, s := range k.ins {
		r := g.vec()
		VMOVUPS(mem(s), r)
		in = append(in, r)
	}
	out := k.body(g, in, sc)
	for j, s := range k.outs {
		VMOVUPS(out[j], mem(s))
	}
	for j := range k.sums {
		accumulate(j, out[nout+j])
	}
	ADDQ(Imm(uint64(g.w)), i)
	JMP(LabelRef("loop"))

	Label("tail")
	TESTQ(rem, rem)
	JZ(LabelRef("done"))
	rv := g.vec()
	if g.v512 {
		VPBROADCASTD(rem.As32(), rv)
		m := K()
		VPCMPGTD(iotaMem, rv, m)
		in = in[:0]
		for _, s := range k.ins {
			r := g.vec()
			VMOVUPS_Z(mem(s), m, r)
			in = append(in, r)
		}
		out = k.body(g, in, sc)
		for j, s := range k.outs {
			VMOVUPS(out[j], m, mem(s))
		}
		for j := range k.sums {
			VMOVUPS_Z(out[nout+j], m, out[nout+j])
			accumulate(j, out[nout+j])
		}
	} else {
		x := XMM()
		MOVQ(rem, x)
		VPBROADCASTD(x, rv)
		m := g.vec()
		VPCMPGTD(iotaMem, rv, m)
		in = in[:0]
		for _, s := range k.ins {
			r := g.vec()
			VMASKMOVPS(mem(s), m, r)
			in = append(in, r)
		}
		out = k.body(g, in, sc)
		for j, s := range k.outs {
			VMASKMOVPS(out[j], m, mem(s))
		}
		for j := range k.sums {
			VANDPS(m, out[nout+j], out[nout+j])
			accumulate(j, out[nout+j])
		}
	}

	Label("done")
	var res []reg.VecVirtual
	for j := range k.sums {
		VADDPD(acc[j][1], acc[j][0], acc[j][0])
		s := acc[j][0]
		if g.v512 {
			h := YMM()
			VEXTRACTF64X4(Imm(1), s, h)
			VADDPD(h, s.AsY(), h)
			s = h
		}
		h := XMM()
		VEXTRACTF128(Imm(1), s, h)
		VADDPD(h, s.AsX(), h)
		h2 := XMM()
		VPERMILPD(Imm(1), h, h2)
		VADDSD(h2, h, h)
		res = append(res, h)
	}
	VZEROUPPER()
	for j, h := range res {
		Store(h, ReturnIndex(j))
	}
	RET()
}

// maxFunc writes vmax: the largest element of x, -Inf when empty, NaN when
// x holds a NaN.
func (g *g) maxFunc() {
	TEXT("vmax"+g.name, NOSPLIT, "func(x []float32) float32")
	Doc("vmax" + g.name + " returns the largest element of x (-Inf when empty, NaN if any is NaN).")
	Pragma("noescape")
	p := Load(Param("x").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	acc := g.load(cf("neginf", float32(math.Inf(-1))))
	nan := g.vec() // lanes that saw a NaN are all ones
	g.zero(nan)
	i := GP64()
	XORQ(i, i)
	mem := Mem{Base: p, Index: i, Scale: 4}
	// step folds v into acc and nan.
	step := func(v reg.VecVirtual) {
		VMAXPS(v, acc, acc)
		u := g.vec()
		if g.v512 {
			k := K()
			VCMPPS(Imm(3), v, v, k) // unordered: v is NaN
			VMOVUPS_Z(cf("allones", 0xffffffff), k, u)
			VPORD(u, nan, nan)
		} else {
			VCMPPS(Imm(3), v, v, u)
			VORPS(u, nan, nan)
		}
	}
	Label("loop")
	rem := GP64()
	MOVQ(n, rem)
	SUBQ(i, rem)
	CMPQ(rem, Imm(uint64(g.w)))
	JL(LabelRef("tail"))
	v := g.vec()
	VMOVUPS(mem, v)
	step(v)
	ADDQ(Imm(uint64(g.w)), i)
	JMP(LabelRef("loop"))

	Label("tail")
	TESTQ(rem, rem)
	JZ(LabelRef("done"))
	rv := g.vec()
	v = g.load(cf("neginf", float32(math.Inf(-1))))
	if g.v512 {
		VPBROADCASTD(rem.As32(), rv)
		m := K()
		VPCMPGTD(iotaMem, rv, m)
		VMOVUPS(mem, m, v) // masked-out lanes keep -Inf
	} else {
		x := XMM()
		MOVQ(rem, x)
		VPBROADCASTD(x, rv)
		m := g.vec()
		VPCMPGTD(iotaMem, rv, m)
		t := g.vec()
		VMASKMOVPS(mem, m, t)
		VBLENDVPS(m, t, v, v) // v = m ? t : -Inf
	}
	step(v)

	Label("done")
	if g.v512 {
		h := YMM()
		VEXTRACTF64X4(Imm(1), acc, h)
		VMAXPS(h, acc.AsY(), h)
		acc = h
	}
	h := XMM()
	VEXTRACTF128(Imm(1), acc, h)
	VMAXPS(h, acc.AsX(), h)
	h2 := XMM()
	VPERMILPS(Imm(0x4e), h, h2)
	VMAXPS(h2, h, h)
	VPERMILPS(Imm(0xb1), h, h2)
	VMAXPS(h2, h, h)
	// A NaN seen anywhere gives NaN.
	if g.v512 {
		k := K()
		VPTESTMD(nan, nan, k)
		KORTESTW(k, k)
	} else {
		VPTEST(nan, nan)
	}
	JZ(LabelRef("ret"))
	VMOVSS(cf("nan", float32(math.NaN())), h)
	Label("ret")
	VZEROUPPER()
	Store(h, ReturnIndex(0))
	RET()
}

func main() {
	ConstraintExpr("!purego")
	all := kernels
	for _, a := range activations {
		all = append(all, actKernels(a)...)
	}
	for _, k := range all {
		for _, is := range []isa{avx512, avx2} {
			(&g{is}).function(k)
		}
	}
	for _, is := range []isa{avx512, avx2} {
		(&g{is}).maxFunc()
	}
	emitConsts()
	Generate()
}
