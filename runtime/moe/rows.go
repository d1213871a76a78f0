package moe

import "github.com/bfcdev/bfc/runtime/kernels"

// Row loops of dispatch and combine, unrolled by 4 with one bounds check.

// axpyRow sets dst += a·src.
func axpyRow[F kernels.Float](dst, src []F, a F) {
	src = src[:len(dst)]
	for len(dst) >= 4 && len(src) >= 4 {
		dst[0] += a * src[0]
		dst[1] += a * src[1]
		dst[2] += a * src[2]
		dst[3] += a * src[3]
		dst, src = dst[4:], src[4:]
	}
	for i := range dst {
		dst[i] += a * src[i]
	}
}

// scaleRow sets dst = a·src.
func scaleRow[F kernels.Float](dst, src []F, a F) {
	src = src[:len(dst)]
	for len(dst) >= 4 && len(src) >= 4 {
		dst[0] = a * src[0]
		dst[1] = a * src[1]
		dst[2] = a * src[2]
		dst[3] = a * src[3]
		dst, src = dst[4:], src[4:]
	}
	for i := range dst {
		dst[i] = a * src[i]
	}
}

// addRow sets dst += src.
func addRow[F kernels.Float](dst, src []F) {
	src = src[:len(dst)]
	for len(dst) >= 4 && len(src) >= 4 {
		dst[0] += src[0]
		dst[1] += src[1]
		dst[2] += src[2]
		dst[3] += src[3]
		dst, src = dst[4:], src[4:]
	}
	for i := range dst {
		dst[i] += src[i]
	}
}

// dotRow returns Σ a·b in float64.
func dotRow[F kernels.Float](a, b []F) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	for len(a) >= 4 && len(b) >= 4 {
		s0 += float64(a[0]) * float64(b[0])
		s1 += float64(a[1]) * float64(b[1])
		s2 += float64(a[2]) * float64(b[2])
		s3 += float64(a[3]) * float64(b[3])
		a, b = a[4:], b[4:]
	}
	for i, v := range a {
		s0 += float64(v) * float64(b[i])
	}
	return (s0 + s1) + (s2 + s3)
}
