//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

//go:generate go run gemm_make.go bf16_make.go

// The micro-kernels compute one mr×nr tile of C:
//
//	for i := range mr {
//		for j := range nr {
//			var s float32
//			for p := range k {
//				s += a[i*rsa+p*csa] * b[p*nr+j]
//			}
//			if beta == 0 {
//				c[i*ldc+j] = alpha * s
//			} else {
//				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
//			}
//		}
//	}
//
// with every sum formed by fused multiply-adds in order of p. A is read in
// place (rsa, csa are strides in elements), B is a packed panel.

// sgemmKernelAVX512 is the 12×32 AVX-512F kernel.
//
//go:noescape
func sgemmKernelAVX512(k int, a *float32, rsa, csa int, b *float32, c *float32, ldc int, alpha, beta float32)

// sgemmKernelAVX2 is the 6×16 AVX2+FMA kernel.
//
//go:noescape
func sgemmKernelAVX2(k int, a *float32, rsa, csa int, b *float32, c *float32, ldc int, alpha, beta float32)

// sgemmKernelAVX512P is the 12×32 AVX-512F kernel on a packed A panel.
//
//go:noescape
func sgemmKernelAVX512P(k int, a *float32, b *float32, c *float32, ldc int, alpha, beta float32)

// sgemmKernelAVX2P is the 6×16 AVX2+FMA kernel on a packed A panel.
//
//go:noescape
func sgemmKernelAVX2P(k int, a *float32, b *float32, c *float32, ldc int, alpha, beta float32)

// sgemmKernelAVX512S is the 12×32 AVX-512F kernel reading B in place,
// row p at b[p*ldb:].
//
//go:noescape
func sgemmKernelAVX512S(k int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

// sgemmKernelAVX2S is the 6×16 AVX2+FMA kernel reading B in place.
//
//go:noescape
func sgemmKernelAVX2S(k int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

// sgemmKernelAVX512S8 and sgemmKernelAVX512S4 are sgemmKernelAVX512S on
// 8×32 and 4×32 tiles.
//
//go:noescape
func sgemmKernelAVX512S8(k int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

//go:noescape
func sgemmKernelAVX512S4(k int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

// sgemmKernelAVX2S4 and sgemmKernelAVX2S2 are sgemmKernelAVX2S on 4×16
// and 2×16 tiles.
//
//go:noescape
func sgemmKernelAVX2S4(k int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

//go:noescape
func sgemmKernelAVX2S2(k int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

// sgemmPackA12AVX512 packs 12 rows of A, not transposed, into one panel:
// dst[p*12 + r] = a[r*lda + p] for r < 12, p < kc. It needs 12*lda < 1<<31.
//
//go:noescape
func sgemmPackA12AVX512(dst *float32, a *float32, lda int, kc int)

// sgemmPackB32AVX512 packs a kc×32 panel of B, not transposed:
// dst[p*32 + q] = b[p*ldb + q] for q < 32, p < kc.
//
//go:noescape
func sgemmPackB32AVX512(dst *float32, b *float32, ldb int, kc int)

// sgemmPackBT32AVX512 packs a kc×32 panel of B, transposed (32 rows of
// b): dst[p*32 + q] = b[q*ldb + p] for q < 32, p < kc; 16*ldb < 1<<31.
//
//go:noescape
func sgemmPackBT32AVX512(dst *float32, b *float32, ldb int, kc int)

// sgemmPackRow32AVX512 copies row p of B into row p of consecutive
// 32-column panels kc rows deep: dst[q*kc*32 + j] = src[q*32 + j].
//
//go:noescape
func sgemmPackRow32AVX512(dst *float32, src *float32, kc int, panels int)

func init() {
	if cpu.X86.HasAVX512F {
		packA12Asm = sgemmPackA12AVX512
		packB32Asm = sgemmPackB32AVX512
		packBT32Asm = sgemmPackBT32AVX512
		packRow32Asm = sgemmPackRow32AVX512
	}
	registerSgemm(&sgemmImpl{
		name:      "avx2",
		available: cpu.X86.HasAVX2 && cpu.X86.HasFMA,
		mr:        6, nr: 16, kc: 256,
		kernel: sgemmKernelAVX2, kernelP: sgemmKernelAVX2P, kernelS: sgemmKernelAVX2S,
		kernelSRows: map[int]sgemmKernelS{4: sgemmKernelAVX2S4, 2: sgemmKernelAVX2S2},
	})
	registerSgemm(&sgemmImpl{
		name:      "avx512",
		available: cpu.X86.HasAVX512F,
		mr:        12, nr: 32, kc: 256,
		kernel: sgemmKernelAVX512, kernelP: sgemmKernelAVX512P, kernelS: sgemmKernelAVX512S,
		kernelSRows: map[int]sgemmKernelS{8: sgemmKernelAVX512S8, 4: sgemmKernelAVX512S4},
	})
}
