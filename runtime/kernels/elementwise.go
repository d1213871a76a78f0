package kernels

import (
	"fmt"
	"math"
)

// Add sets y = a + b element-wise; y may alias a or b.
func Add[F Float](y, a, b []F) {
	n := len(y)
	checkLen("Add", "a", len(a), n)
	checkLen("Add", "b", len(b), n)
	if is32[F]() {
		vecUse.add(as32(y), as32(a), as32(b))
		return
	}
	a, b = a[:n], b[:n]
	for i := range y {
		y[i] = a[i] + b[i]
	}
}

// AddTo sets dst += src.
func AddTo[F Float](dst, src []F) {
	checkLen("AddTo", "src", len(src), len(dst))
	if is32[F]() {
		vecUse.add(as32(dst), as32(dst), as32(src))
		return
	}
	src = src[:len(dst)]
	for i := range dst {
		dst[i] += src[i]
	}
}

// Scale sets x *= s.
func Scale[F Float](x []F, s F) { ScaleTo(x, x, s) }

// ScaleTo sets dst = a·src; dst may alias src.
func ScaleTo[F Float](dst, src []F, a F) {
	checkLen("ScaleTo", "src", len(src), len(dst))
	if is32[F]() {
		vecUse.scale(as32(dst), as32(src), float32(a))
		return
	}
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] = a * v
	}
}

// Axpy sets dst += a·src. float32 runs on the vector kernels, which
// round a·src + dst once (FMA); other builds may round twice.
func Axpy[F Float](dst, src []F, a F) {
	checkLen("Axpy", "src", len(src), len(dst))
	if is32[F]() {
		vecUse.axpy(as32(dst), as32(src), float32(a))
		return
	}
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] += a * v
	}
}

// Dot returns Σ a·b accumulated in float64 (float32: each product
// rounded to float32 first); b has a's length.
func Dot[F Float](a, b []F) float64 {
	checkLen("Dot", "b", len(b), len(a))
	if is32[F]() {
		return vecUse.dot(as32(a), as32(b))
	}
	b = b[:len(a)]
	var s float64
	for i, v := range a {
		s += float64(v * b[i])
	}
	return s
}

// Zero sets x to 0.
func Zero[F Float](x []F) { clear(x) }

// SumSquares returns Σ x², accumulated in float64.
func SumSquares[F Float](x []F) float64 {
	if is32[F]() {
		return vecUse.sumSq(as32(x), 0)
	}
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		v := (*[4]F)(x[i:])
		a, b, c, d := float64(v[0]), float64(v[1]), float64(v[2]), float64(v[3])
		s0 += a * a
		s1 += b * b
		s2 += c * c
		s3 += d * d
	}
	for ; i < len(x); i++ {
		v := float64(x[i])
		s0 += v * v
	}
	return (s0 + s1) + (s2 + s3)
}

// AllFinite reports whether x holds no NaN or ±Inf.
func AllFinite[F Float](x []F) bool {
	if is32[F]() {
		return !math.IsNaN(vecUse.nonFinite(as32(x)))
	}
	var acc F
	for _, v := range x {
		acc += v - v // NaN for NaN and ±Inf, else 0
	}
	return !math.IsNaN(float64(acc))
}

// checkLen panics unless got >= want.
func checkLen(kernel, name string, got, want int) {
	if got < want {
		panic(fmt.Sprintf("kernels.%s: len(%s) = %d, need %d", kernel, name, got, want))
	}
}
