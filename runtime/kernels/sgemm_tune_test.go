package kernels

import (
	"fmt"
	"runtime"
	"testing"
)

// sgemmTuneCfgs are the settings BenchmarkSgemmPacked compares: the
// engine without packed A (old), the default, and packing A in chunks
// from 256 columns (pack256; only the one-goroutine path makes wider ones).
// The first entry repeats the default: whichever setting runs first after
// a change of shape measures low.
var sgemmTuneCfgs = []struct {
	name string
	old  bool
	minN int
}{
	{name: "first"},
	{name: "old", old: true},
	{name: "packed"},
	{name: "pack256", minN: 256},
}

// BenchmarkSgemmPacked times Gemm at the performance.md shapes on the
// selected implementation with and without its packed-A kernel, in
// alternation (rep), so that a noisy machine affects both alike.
func BenchmarkSgemmPacked(b *testing.B) {
	s := sgemmUse
	if s.kernelP == nil {
		b.Skip("no packed kernel")
	}
	for rep := range 5 {
		for _, sh := range gemmShapes {
			m, k, n := sh[0], sh[1], sh[2]
			x, y, z := benchMats(m, k, n)
			for _, th := range []int{1, 2} {
				for _, cf := range sgemmTuneCfgs {
					b.Run(fmt.Sprintf("%dx%dx%d/threads=%d/%s/rep=%d", m, k, n, th, cf.name, rep), func(b *testing.B) {
						kp, minN := s.kernelP, sgemmPackMinN
						defer func() { s.kernelP, sgemmPackMinN = kp, minN }()
						if cf.old {
							s.kernelP = nil
						}
						if cf.minN != 0 {
							sgemmPackMinN = cf.minN
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

// BenchmarkSgemmShare compares, at two threads, per-chunk packing of B
// with the shared packed B (sgemmShareB), in alternation.
func BenchmarkSgemmShare(b *testing.B) {
	cfgs := []struct {
		name  string
		share bool
	}{{"first", true}, {"private", false}, {"shared", true}}
	for rep := range 10 {
		for _, sh := range gemmShapes {
			m, k, n := sh[0], sh[1], sh[2]
			x, y, z := benchMats(m, k, n)
			for _, cf := range cfgs {
				b.Run(fmt.Sprintf("%dx%dx%d/%s/rep=%d", m, k, n, cf.name, rep), func(b *testing.B) {
					defer func(s bool) { sgemmShareB = s }(sgemmShareB)
					sgemmShareB = cf.share
					defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
					for b.Loop() {
						Gemm(false, false, m, n, k, 1, x, k, y, n, 0, z, n)
					}
					reportGFLOPs(b, m, n, k)
				})
			}
		}
	}
}
