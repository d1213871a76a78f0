package kernels

import (
	"math"
	"testing"
)

func naiveRMSNorm(x, g []float64, rows, d int, eps float64) (y, rstd []float64) {
	y, rstd = make([]float64, rows*d), make([]float64, rows)
	for r := range rows {
		var ss float64
		for j := range d {
			ss += x[r*d+j] * x[r*d+j]
		}
		rstd[r] = 1 / math.Sqrt(ss/float64(d)+eps)
		for j := range d {
			y[r*d+j] = x[r*d+j] * rstd[r] * g[j]
		}
	}
	return y, rstd
}

func naiveLayerNorm(x, g, b []float64, rows, d int, eps float64) (y, mean, rstd []float64) {
	y, mean, rstd = make([]float64, rows*d), make([]float64, rows), make([]float64, rows)
	for r := range rows {
		var s float64
		for j := range d {
			s += x[r*d+j]
		}
		mean[r] = s / float64(d)
		var v float64
		for j := range d {
			v += (x[r*d+j] - mean[r]) * (x[r*d+j] - mean[r])
		}
		rstd[r] = 1 / math.Sqrt(v/float64(d)+eps)
		for j := range d {
			y[r*d+j] = (x[r*d+j]-mean[r])*rstd[r]*g[j] + b[j]
		}
	}
	return y, mean, rstd
}

func testRMSNormForward[F Float](t *testing.T) {
	r := newRand(5)
	for _, d := range []int{1, 3, 8, 33} {
		rows := 4
		x, g := randSlice[F](r, rows*d), randSlice[F](r, d)
		y, rstd := make([]F, rows*d), make([]F, rows)
		RMSNorm(y, rstd, x, g, rows, d, 1e-5)
		wy, wr := naiveRMSNorm(to64(x), to64(g), rows, d, 1e-5)
		requireClose(t, wy, y, tolFor[F]())
		requireClose(t, wr, rstd, tolFor[F]())
		RMSNorm(x, rstd, x, g, rows, d, 1e-5) // aliasing
		requireClose(t, wy, x, tolFor[F]())
	}
}

func TestRMSNorm(t *testing.T) {
	t.Run("f32", testRMSNormForward[float32])
	t.Run("f64", testRMSNormForward[float64])
}

func TestRMSNormBackward(t *testing.T) {
	r := newRand(6)
	const rows, d, eps = 3, 7, 1e-5
	x, g := randSlice[float64](r, rows*d), randSlice[float64](r, d)
	dy := randSlice[float64](r, rows*d)
	y, rstd := make([]float64, rows*d), make([]float64, rows)
	loss := func() float64 {
		RMSNorm(y, rstd, x, g, rows, d, eps)
		return dotLoss(dy, y)
	}
	loss()
	dx0, dg0 := randSlice[float64](r, rows*d), randSlice[float64](r, d)
	dx, dg := clone(dx0), clone(dg0)
	RMSNormBackward(dx, dg, dy, x, g, rstd, rows, d)
	gradCheck(t, "x", x, loss, accumulated(dx, dx0))
	gradCheck(t, "g", g, loss, accumulated(dg, dg0))

	// float32 agrees with float64.
	x32, g32, dy32 := toF32(x), toF32(g), toF32(dy)
	y32, rs32 := make([]float32, rows*d), make([]float32, rows)
	RMSNorm(y32, rs32, x32, g32, rows, d, eps)
	dx32, dg32 := make([]float32, rows*d), make([]float32, d)
	RMSNormBackward(dx32, dg32, dy32, x32, g32, rs32, rows, d)
	requireClose(t, accumulated(dx, dx0), dx32, 1e-4)
	requireClose(t, accumulated(dg, dg0), dg32, 1e-4)
}

func testLayerNormForward[F Float](t *testing.T) {
	r := newRand(7)
	for _, d := range []int{1, 2, 8, 33} {
		rows := 5
		x, g, b := randSlice[F](r, rows*d), randSlice[F](r, d), randSlice[F](r, d)
		y, mean, rstd := make([]F, rows*d), make([]F, rows), make([]F, rows)
		LayerNorm(y, mean, rstd, x, g, b, rows, d, 1e-5)
		wy, wm, wr := naiveLayerNorm(to64(x), to64(g), to64(b), rows, d, 1e-5)
		tol := tolFor[F]()
		if d == 1 {
			tol = 1e-2 // rstd = 1/sqrt(eps) magnifies rounding
		}
		requireClose(t, wy, y, tol)
		requireClose(t, wm, mean, tol)
		requireClose(t, wr, rstd, tol)
	}
}

func TestLayerNorm(t *testing.T) {
	t.Run("f32", testLayerNormForward[float32])
	t.Run("f64", testLayerNormForward[float64])
}

func TestLayerNormBackward(t *testing.T) {
	r := newRand(8)
	const rows, d, eps = 3, 6, 1e-5
	x, g, b := randSlice[float64](r, rows*d), randSlice[float64](r, d), randSlice[float64](r, d)
	dy := randSlice[float64](r, rows*d)
	y, mean, rstd := make([]float64, rows*d), make([]float64, rows), make([]float64, rows)
	loss := func() float64 {
		LayerNorm(y, mean, rstd, x, g, b, rows, d, eps)
		return dotLoss(dy, y)
	}
	loss()
	dx0, dg0, db0 := randSlice[float64](r, rows*d), randSlice[float64](r, d), randSlice[float64](r, d)
	dx, dg, db := clone(dx0), clone(dg0), clone(db0)
	LayerNormBackward(dx, dg, db, dy, x, g, mean, rstd, rows, d)
	gradCheck(t, "x", x, loss, accumulated(dx, dx0))
	gradCheck(t, "g", g, loss, accumulated(dg, dg0))
	gradCheck(t, "b", b, loss, accumulated(db, db0))
}

// TestNormFloat32 compares the float32 norms (vector kernels where the CPU
// has them) with float64 on a width that leaves vector tails and enough
// rows to split into several chunks.
func TestNormFloat32(t *testing.T) {
	r := newRand(31)
	const rows, d, eps = 300, 37, 1e-5
	x, g, b := randSlice[float64](r, rows*d), randSlice[float64](r, d), randSlice[float64](r, d)
	for i := range x {
		x[i] = 3*x[i] + 0.5 // a mean away from 0
	}
	dy := randSlice[float64](r, rows*d)
	x32, g32, b32, dy32 := toF32(x), toF32(g), toF32(b), toF32(dy)
	x, g, b, dy = to64(x32), to64(g32), to64(b32), to64(dy32)

	y, rstd := make([]float64, rows*d), make([]float64, rows)
	RMSNorm(y, rstd, x, g, rows, d, eps)
	y32, rs32 := make([]float32, rows*d), make([]float32, rows)
	RMSNorm(y32, rs32, x32, g32, rows, d, eps)
	requireClose(t, y, y32, 1e-6)
	requireClose(t, rstd, rs32, 1e-6)
	dx, dg := make([]float64, rows*d), make([]float64, d)
	RMSNormBackward(dx, dg, dy, x, g, rstd, rows, d)
	dx32, dg32 := make([]float32, rows*d), make([]float32, d)
	RMSNormBackward(dx32, dg32, dy32, x32, g32, rs32, rows, d)
	requireClose(t, dx, dx32, 1e-5)
	requireClose(t, dg, dg32, 1e-5)

	mean := make([]float64, rows)
	LayerNorm(y, mean, rstd, x, g, b, rows, d, eps)
	mean32 := make([]float32, rows)
	LayerNorm(y32, mean32, rs32, x32, g32, b32, rows, d, eps)
	requireClose(t, y, y32, 1e-6)
	requireClose(t, mean, mean32, 1e-6)
	requireClose(t, rstd, rs32, 1e-6)
	dx, dg, db := make([]float64, rows*d), make([]float64, d), make([]float64, d)
	LayerNormBackward(dx, dg, db, dy, x, g, mean, rstd, rows, d)
	dx32, dg32, db32 := make([]float32, rows*d), make([]float32, d), make([]float32, d)
	LayerNormBackward(dx32, dg32, db32, dy32, x32, g32, mean32, rs32, rows, d)
	requireClose(t, dx, dx32, 1e-5)
	requireClose(t, dg, dg32, 1e-5)
	requireClose(t, db, db32, 1e-5)

	if got, want := SumSquares(x32), SumSquares(x); math.Abs(got-want) > 1e-12*want {
		t.Fatalf("SumSquares float32 %v, float64 %v", got, want)
	}
}

func toF32(x []float64) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(v)
	}
	return y
}

// BenchmarkNorm times the float32 norms, forward and backward, per element
// and per vector implementation.
func BenchmarkNorm(b *testing.B) {
	r := newRand(30)
	const rows, d = 512, 256
	x, dy := randSlice[float32](r, rows*d), randSlice[float32](r, rows*d)
	g, bias := randSlice[float32](r, d), randSlice[float32](r, d)
	y, dx := make([]float32, rows*d), make([]float32, rows*d)
	rstd, mean := make([]float32, rows), make([]float32, rows)
	dg, db := make([]float32, d), make([]float32, d)
	for _, v := range vecImpls {
		if !v.available {
			continue
		}
		run := func(name string, f func()) {
			b.Run(name+"/"+v.name, func(b *testing.B) {
				old := vecUse
				vecUse = v
				defer func() { vecUse = old }()
				for b.Loop() {
					f()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(rows*d), "ns/elem")
			})
		}
		run("rms", func() { RMSNorm(y, rstd, x, g, rows, d, 1e-6) })
		run("rms_bwd", func() { RMSNormBackward(dx, dg, dy, x, g, rstd, rows, d) })
		run("layer", func() { LayerNorm(y, mean, rstd, x, g, bias, rows, d, 1e-6) })
		run("layer_bwd", func() { LayerNormBackward(dx, dg, db, dy, x, g, mean, rstd, rows, d) })
	}
}
