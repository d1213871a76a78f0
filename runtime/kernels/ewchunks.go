package kernels

import "math"

// ewKind selects the chunk method an ewTask runs.
type ewKind int

const (
	ewActivateChunk ewKind = iota
	ewActivateBackwardChunk
	ewGluChunk
	ewGluBackwardChunk
	ewRmsNormChunk
	ewRmsNormBackwardChunk
	ewLayerNormChunk
	ewLayerNormBackwardChunk
	ewSoftmaxChunk
	ewCrossEntropyChunk
	ewCrossEntropyBackwardChunk
)

// exec runs chunk c, units [lo, hi), of t.
func (t *ewTask[T]) exec(c, lo, hi int) {
	switch t.kind {
	case ewActivateChunk:
		t.activateChunk(c, lo, hi)
	case ewActivateBackwardChunk:
		t.activateBackwardChunk(c, lo, hi)
	case ewGluChunk:
		t.gluChunk(c, lo, hi)
	case ewGluBackwardChunk:
		t.gluBackwardChunk(c, lo, hi)
	case ewRmsNormChunk:
		t.rmsNormChunk(c, lo, hi)
	case ewRmsNormBackwardChunk:
		t.rmsNormBackwardChunk(c, lo, hi)
	case ewLayerNormChunk:
		t.layerNormChunk(c, lo, hi)
	case ewLayerNormBackwardChunk:
		t.layerNormBackwardChunk(c, lo, hi)
	case ewSoftmaxChunk:
		t.softmaxChunk(c, lo, hi)
	case ewCrossEntropyChunk:
		t.crossEntropyChunk(c, lo, hi)
	case ewCrossEntropyBackwardChunk:
		t.crossEntropyBackwardChunk(c, lo, hi)
	}
}

// vecAct returns the float32 vector kernels of t.act, or nil (float64, or
// an activation left to the Go loops).
func (t *ewTask[T]) vecAct() *vecAct {
	if !is32[T]() {
		return nil
	}
	return vecUse.act(t.act)
}

func (t *ewTask[T]) activateChunk(_, lo, hi int) {
	if a := t.vecAct(); a != nil {
		a.fwd(as32(t.a[lo:hi]), as32(t.b[lo:hi]))
		return
	}
	actApply(t.act, t.a[lo:hi], t.b[lo:hi])
}

func (t *ewTask[T]) activateBackwardChunk(_, lo, hi int) {
	if a := t.vecAct(); a != nil {
		a.bwd(as32(t.a[lo:hi]), as32(t.b[lo:hi]), as32(t.c[lo:hi]))
		return
	}
	var buf [256]T
	for i := lo; i < hi; i += len(buf) {
		e := min(i+len(buf), hi)
		d := buf[:e-i]
		actDerivApply(t.act, d, nil, t.c[i:e])
		dx, dy := t.a[i:e], t.b[i:e]
		for j := range d {
			dx[j] += dy[j] * d[j]
		}
	}
}

func (t *ewTask[T]) gluChunk(_, lo, hi int) {
	h := t.w
	va := t.vecAct()
	for r := lo; r < hi; r++ {
		g := t.b[r*2*h : r*2*h+h]
		u := t.b[r*2*h+h : (r+1)*2*h]
		yr := t.a[r*h : (r+1)*h]
		if va != nil {
			va.glu(as32(yr), as32(g), as32(u))
			continue
		}
		actApply(t.act, yr, g)
		for j := range yr {
			yr[j] *= u[j]
		}
	}
}

func (t *ewTask[T]) gluBackwardChunk(_, lo, hi int) {
	h := t.w
	if va := t.vecAct(); va != nil {
		for r := lo; r < hi; r++ {
			row := r * 2 * h
			va.gluBwd(as32(t.a[row:row+h]), as32(t.a[row+h:row+2*h]), as32(t.b[r*h:(r+1)*h]),
				as32(t.c[row:row+h]), as32(t.c[row+h:row+2*h]))
		}
		return
	}
	var fb, db [256]T
	for r := lo; r < hi; r++ {
		for j0 := 0; j0 < h; j0 += len(fb) {
			j1 := min(j0+len(fb), h)
			f, d := fb[:j1-j0], db[:j1-j0]
			row := r * 2 * h
			actDerivApply(t.act, d, f, t.c[row+j0:row+j1])
			u := t.c[row+h+j0 : row+h+j1]
			dg := t.a[row+j0 : row+j1]
			du := t.a[row+h+j0 : row+h+j1]
			dy := t.b[r*h+j0 : r*h+j1]
			for j := range d {
				dg[j] += dy[j] * u[j] * d[j]
				du[j] += dy[j] * f[j]
			}
		}
	}
}

func (t *ewTask[T]) rmsNormChunk(_, lo, hi int) {
	d, g := t.w, t.c
	if is32[T]() {
		for r := lo; r < hi; r++ {
			xr, yr := as32(t.b[r*d:r*d+d]), as32(t.a[r*d:r*d+d])
			rs := 1 / math.Sqrt(vecUse.sumSq(xr, 0)/float64(d)+float64(t.s))
			t.d[r] = T(rs)
			vecUse.rmsNorm(yr, xr, as32(g), float32(rs))
		}
		return
	}
	for r := lo; r < hi; r++ {
		xr, yr := t.b[r*d:r*d+d], t.a[r*d:r*d+d]
		rs := 1 / math.Sqrt(SumSquares(xr)/float64(d)+float64(t.s))
		t.d[r] = T(rs)
		s := T(rs)
		for j := range yr {
			yr[j] = xr[j] * s * g[j]
		}
	}
}

func (t *ewTask[T]) rmsNormBackwardChunk(c, lo, hi int) {
	d, g := t.w, t.c
	dg := t.g[c*d : c*d+d]
	if is32[T]() {
		for r := lo; r < hi; r++ {
			xr, dyr, dxr := as32(t.b[r*d:r*d+d]), as32(t.f[r*d:r*d+d]), as32(t.a[r*d:r*d+d])
			rs := float64(t.d[r])
			dot := vecUse.dot3(dyr, as32(g), xr)
			vecUse.rmsNormBwd(dxr, as32(dg), xr, dyr, as32(g), float32(rs), float32(rs*rs*rs*dot/float64(d)))
		}
		return
	}
	for r := lo; r < hi; r++ {
		xr, dyr, dxr := t.b[r*d:r*d+d], t.f[r*d:r*d+d], t.a[r*d:r*d+d]
		rs := float64(t.d[r])
		var dot float64
		for j := range xr {
			dot += float64(dyr[j] * g[j] * xr[j])
		}
		k := T(rs * rs * rs * dot / float64(d))
		s := T(rs)
		for j := range xr {
			dxr[j] += s*g[j]*dyr[j] - k*xr[j]
			dg[j] += dyr[j] * xr[j] * s
		}
	}
}

func (t *ewTask[T]) layerNormChunk(_, lo, hi int) {
	d, g, b := t.w, t.c, t.f
	if is32[T]() {
		for r := lo; r < hi; r++ {
			xr, yr := as32(t.b[r*d:r*d+d]), as32(t.a[r*d:r*d+d])
			mu := float32(vecUse.sum(xr) / float64(d))
			rs := 1 / math.Sqrt(vecUse.sumSq(xr, mu)/float64(d)+float64(t.s))
			t.e[r], t.d[r] = T(mu), T(rs)
			vecUse.layerNorm(yr, xr, as32(g), as32(b), mu, float32(rs))
		}
		return
	}
	for r := lo; r < hi; r++ {
		xr := t.b[r*d : r*d+d]
		var s float64
		for _, v := range xr {
			s += float64(v)
		}
		mu := s / float64(d)
		var v2 float64
		for _, v := range xr {
			q := float64(v) - mu
			v2 += q * q
		}
		rs := 1 / math.Sqrt(v2/float64(d)+float64(t.s))
		t.e[r], t.d[r] = T(mu), T(rs)
		yr := t.a[r*d : r*d+d]
		m, sc := T(mu), T(rs)
		for j := range yr {
			yr[j] = (xr[j]-m)*sc*g[j] + b[j]
		}
	}
}

func (t *ewTask[T]) layerNormBackwardChunk(c, lo, hi int) {
	d, g := t.w, t.c
	dg, db := t.g[c*d:c*d+d], t.h[c*d:c*d+d]
	if is32[T]() {
		for r := lo; r < hi; r++ {
			xr, dyr, dxr := as32(t.b[r*d:r*d+d]), as32(t.f[r*d:r*d+d]), as32(t.a[r*d:r*d+d])
			m, rs := float32(t.e[r]), float32(t.d[r])
			s1, s2 := vecUse.layerNormBwdSums(as32(dg), as32(db), xr, dyr, as32(g), m, rs)
			vecUse.layerNormBwdDx(dxr, xr, dyr, as32(g), m, rs, float32(s1/float64(d)), float32(s2/float64(d)))
		}
		return
	}
	for r := lo; r < hi; r++ {
		xr, dyr, dxr := t.b[r*d:r*d+d], t.f[r*d:r*d+d], t.a[r*d:r*d+d]
		m, rs := t.e[r], t.d[r]
		var s1, s2 float64
		for j := range xr {
			xh := (xr[j] - m) * rs
			dxh := dyr[j] * g[j]
			s1 += float64(dxh)
			s2 += float64(dxh * xh)
			dg[j] += dyr[j] * xh
			db[j] += dyr[j]
		}
		m1, m2 := T(s1/float64(d)), T(s2/float64(d))
		for j := range xr {
			xh := (xr[j] - m) * rs
			dxr[j] += rs * (dyr[j]*g[j] - m1 - xh*m2)
		}
	}
}

func (t *ewTask[T]) softmaxChunk(_, lo, hi int) {
	n := t.w
	if is32[T]() {
		for r := lo; r < hi; r++ {
			xr, yr := as32(t.b[r*n:r*n+n]), as32(t.a[r*n:r*n+n])
			s := vexpSubSum32(yr, xr, rowMax(xr))
			vscale32(yr, float32(1/s))
		}
		return
	}
	for r := lo; r < hi; r++ {
		xr, yr := t.b[r*n:r*n+n], t.a[r*n:r*n+n]
		m := float64(rowMax(xr))
		var s float64
		for j, v := range xr {
			e := expOf[T](float64(v) - m)
			s += e
			yr[j] = T(e)
		}
		inv := T(1 / s)
		for j := range yr {
			yr[j] *= inv
		}
	}
}

func (t *ewTask[T]) crossEntropyChunk(c, lo, hi int) {
	v := t.w
	var loss float64
	n := 0
	for r := lo; r < hi; r++ {
		lr := t.b[r*v : r*v+v]
		l := logSumExp(lr)
		t.c[r] = T(l)
		if tg := t.tok[r]; tg >= 0 {
			loss += l - float64(lr[tg])
			n++
		}
	}
	t.part[c], t.cnt[c] = loss, n
}

func (t *ewTask[T]) crossEntropyBackwardChunk(_, lo, hi int) {
	v := t.w
	s := float64(t.s)
	for r := lo; r < hi; r++ {
		tg := t.tok[r]
		if tg < 0 {
			continue
		}
		lr, dr := t.b[r*v:r*v+v], t.a[r*v:r*v+v]
		if is32[T]() {
			vexpSubAcc32(as32(dr), as32(lr), float32(t.c[r]), float32(t.s))
			dr[tg] -= t.s
			continue
		}
		l := float64(t.c[r])
		for j, x := range lr {
			dr[j] += T(s * expOf[T](float64(x)-l))
		}
		dr[tg] -= t.s
	}
}
