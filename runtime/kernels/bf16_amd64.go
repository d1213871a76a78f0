//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

// bgemmKernelAVX512BF16 is the 12×32 VDPBF16PS kernel (see bf16_make.go).
//
//go:noescape
func bgemmKernelAVX512BF16(kp int, a, b *uint16, c *float32, ldc int, alpha, beta float32, t *float32)

// bgemmKernelAMX is the 32×32 AMX-BF16 kernel (see bf16_make.go).
//
//go:noescape
func bgemmKernelAMX(kp int, a, b *uint16, c *float32, ldc int, alpha, beta float32, t *float32)

// bgemmKernelAMXRow is the AMX kernel over a row of full tiles with alpha
// 1 and beta 0 or 1, storing straight to C (see bf16_make.go).
//
//go:noescape
func bgemmKernelAMXRow(kp int, a, b *uint16, panels, bstride int, c *float32, ldc int, beta float32)

//go:noescape
func roundBF16AVX512(dst, src *float32, n int)

//go:noescape
func bf16NarrowAVX512(dst *uint16, src *float32, n int)

//go:noescape
func bf16PairsAVX512(dst *uint32, x0, x1 *float32, n int)

//go:noescape
func bf16TransposeAVX512(dst *uint32, ldd int, src *uint32, lds int, rows, cols int)

func init() {
	if cpu.X86.HasAVX512F {
		roundBF16Asm = roundBF16AVX512
		bf16NarrowAsm = bf16NarrowAVX512
		bf16PairsAsm = bf16PairsAVX512
		bf16TransposeAsm = bf16TransposeAVX512
	}
	registerBgemm(&bgemmImpl{
		name:      "avx512bf16",
		available: cpu.X86.HasAVX512F && cpu.X86.HasAVX512BF16,
		mr:        12, nr: 32, kb: 2,
		packA:  packAPairs,
		kernel: bgemmKernelAVX512BF16,
	})
	registerBgemm(&bgemmImpl{
		name:      "amx",
		available: cpu.X86.HasAVX512F && cpu.X86.HasAMXTile && cpu.X86.HasAMXBF16 && amxPermitted(),
		mr:        32, nr: 32, kb: 32,
		packA:  packARows,
		kernel: bgemmKernelAMX, kernelRow: bgemmKernelAMXRow,
	})
}
