package kernels

import "unsafe"

// Float is the element type of every kernel.
type Float interface{ ~float32 | ~float64 }

// is32 reports whether F is a 4-byte float.
func is32[F Float]() bool {
	var z F
	return unsafe.Sizeof(z) == 4
}

// as32 reinterprets x as []float32; F must be 4 bytes wide.
func as32[F Float](x []F) []float32 {
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(x))), len(x))
}

// as64 reinterprets x as []float64; F must be 8 bytes wide.
func as64[F Float](x []F) []float64 {
	return unsafe.Slice((*float64)(unsafe.Pointer(unsafe.SliceData(x))), len(x))
}
