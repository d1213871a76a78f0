package kernels

import (
	"fmt"
	"runtime"
	"testing"
)

// BenchmarkSgemmPacked times Gemm at the performance.md shapes on the
// selected implementation with and without its packed-A kernel, in
// alternation (rep), so that a noisy machine affects both alike.
func BenchmarkSgemmPacked(b *testing.B) {
	s := sgemmUse
	if s.kernelP == nil {
		b.Skip("no packed kernel")
	}
	for rep := range 3 {
		for _, sh := range gemmShapes {
			m, k, n := sh[0], sh[1], sh[2]
			x, y, z := benchMats(m, k, n)
			for _, th := range []int{1, 2} {
				for _, packed := range []bool{false, true} {
					b.Run(fmt.Sprintf("%dx%dx%d/threads=%d/packed=%v/rep=%d", m, k, n, th, packed, rep), func(b *testing.B) {
						kp := s.kernelP
						defer func() { s.kernelP = kp }()
						if !packed {
							s.kernelP = nil
						}
						defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(th))
						for b.Loop() {
							Gemm(false, false, m, n, k, 1, x, k, y, n, 0, z, n)
						}
						reportGFLOPs(b, m, n, k)
					})
				}
			}
		}
	}
}
