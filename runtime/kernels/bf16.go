package kernels

import "math"

// A BF16 is a bfloat16: the top 16 bits of a float32 (sign, 8-bit
// exponent, 7-bit fraction). bfc's bf16 precision keeps weights, sums and
// everything but matmul operands in float32; operands are rounded to BF16.
type BF16 uint16

// ToBF16 rounds x to the nearest bfloat16, ties to even. Infinities stay
// infinite, a finite x that rounds past the largest bfloat16 becomes
// ±Inf, a NaN stays a NaN (quiet, sign and top payload bits kept) and
// denormals round like any other value.
func ToBF16(x float32) BF16 { return BF16(bf16Bits(math.Float32bits(x))) }

// Float32 returns h as a float32, exactly.
func (h BF16) Float32() float32 { return math.Float32frombits(uint32(h) << 16) }

// RoundBF16 returns x rounded to bfloat16 (ToBF16(x).Float32()).
func RoundBF16(x float32) float32 { return ToBF16(x).Float32() }

// bf16Bits is ToBF16 on the bits of a float32.
func bf16Bits(u uint32) uint16 {
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 0x40
	}
	return uint16((u + 0x7fff + (u>>16)&1) >> 16)
}

// RoundBF16s sets dst[i] = RoundBF16(src[i]); dst may be src.
func RoundBF16s(dst, src []float32) {
	if len(dst) < len(src) {
		panic("kernels.RoundBF16s: dst shorter than src")
	}
	dst = dst[:len(src)]
	if roundBF16Asm != nil && len(src) > 0 {
		roundBF16Asm(&dst[0], &src[0], len(src))
		return
	}
	for i, v := range src {
		dst[i] = math.Float32frombits(uint32(bf16Bits(math.Float32bits(v))) << 16)
	}
}

// EncodeBF16 sets dst[i] = ToBF16(src[i]).
func EncodeBF16(dst []BF16, src []float32) {
	if len(dst) < len(src) {
		panic("kernels.EncodeBF16: dst shorter than src")
	}
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = BF16(bf16Bits(math.Float32bits(v)))
	}
}

// DecodeBF16 sets dst[i] = src[i].Float32().
func DecodeBF16(dst []float32, src []BF16) {
	if len(dst) < len(src) {
		panic("kernels.DecodeBF16: dst shorter than src")
	}
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = math.Float32frombits(uint32(v) << 16)
	}
}

// roundBF16Asm, if not nil, is an assembly RoundBF16s on n > 0 elements.
var roundBF16Asm func(dst, src *float32, n int)
