package kernels

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// naiveGemm is the reference triple loop in float64.
func naiveGemm(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	for i := range m {
		for j := range n {
			var s float64
			for p := range k {
				var av, bv float64
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}

func testGemm[F Float](t *testing.T) {
	r := newRand(1)
	sizes := []int{1, 2, 3, 7, 17, 33, 65, 130}
	if testing.Short() {
		sizes = []int{1, 2, 3, 7, 17, 65}
	}
	type ab struct{ alpha, beta float64 }
	coefs := []ab{{1, 0}, {1, 1}, {0.5, -2}, {0, 0.5}, {-1.5, 0}}
	n := 0
	for _, m := range sizes {
		for _, nn := range sizes {
			for _, k := range sizes {
				for v := range 4 {
					tA, tB := v&1 != 0, v&2 != 0
					co := coefs[n%len(coefs)]
					pad := n % 3 // extra leading dimension
					n++
					checkGemmCase[F](t, r, tA, tB, m, nn, k, co.alpha, co.beta, pad)
				}
			}
		}
	}
	// Larger cases that take the parallel path with edge tiles.
	for _, s := range [][3]int{{300, 257, 129}, {129, 600, 300}, {513, 70, 515}} {
		for v := range 4 {
			checkGemmCase[F](t, r, v&1 != 0, v&2 != 0, s[0], s[1], s[2], 0.7, 0.3, 5)
		}
	}
}

func checkGemmCase[F Float](t *testing.T, r interface{ Float64() float64 }, tA, tB bool, m, n, k int, alpha, beta float64, pad int) {
	t.Helper()
	ar, ac := m, k
	if tA {
		ar, ac = k, m
	}
	br, bc := k, n
	if tB {
		br, bc = n, k
	}
	lda, ldb, ldc := ac+pad, bc+2*pad, n+pad
	rnd := func(n int) []F {
		x := make([]F, n)
		for i := range x {
			x[i] = F(2*r.Float64() - 1)
		}
		return x
	}
	a := rnd((ar-1)*lda + ac)
	b := rnd((br-1)*ldb + bc)
	c := rnd(m * ldc)
	if beta == 0 {
		// beta == 0 must overwrite even NaN.
		for i := range c {
			c[i] = F(math.NaN())
		}
	}
	want := to64(c)
	naiveGemm(tA, tB, m, n, k, alpha, to64(a), lda, to64(b), ldb, beta, want, ldc)
	Gemm(tA, tB, m, n, k, F(alpha), a, lda, b, ldb, F(beta), c, ldc)
	for i := range m {
		for j := range n {
			g, w := float64(c[i*ldc+j]), want[i*ldc+j]
			tol := tolFor[F]() * (1 + float64(k)/64)
			if !(math.Abs(g-w) <= tol*(1+math.Abs(w))) {
				t.Fatalf("tA=%v tB=%v m=%d n=%d k=%d alpha=%v beta=%v pad=%d: C[%d,%d] = %v, want %v", tA, tB, m, n, k, alpha, beta, pad, i, j, g, w)
			}
		}
		// Padding columns of C must be untouched.
		for j := n; j < ldc && i*ldc+j < len(c); j++ {
			g, w := float64(c[i*ldc+j]), want[i*ldc+j]
			if !(g == w || math.IsNaN(g) && math.IsNaN(w)) {
				t.Fatalf("padding C[%d,%d] changed to %v", i, j, g)
			}
		}
	}
}

func TestGemmFloat32(t *testing.T) { testGemm[float32](t) }
func TestGemmFloat64(t *testing.T) { testGemm[float64](t) }

type myFloat float32

func TestGemmNamedType(t *testing.T) {
	checkGemmCase[myFloat](t, newRand(3), true, false, 19, 23, 29, 1, 0, 1)
}

func TestGemmPanics(t *testing.T) {
	require.Panics(t, func() {
		Gemm(false, false, 2, 2, 2, 1, make([]float32, 3), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
	})
	require.Panics(t, func() {
		Gemm(false, false, 2, 2, 2, 1, make([]float32, 4), 1, make([]float32, 4), 2, 0, make([]float32, 4), 2)
	})
	// Empty products are fine.
	Gemm[float32](false, false, 0, 0, 0, 1, nil, 1, nil, 1, 0, nil, 1)
}

func TestGemmAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	m, n, k := 256, 256, 256
	a, b, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
	Gemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
	allocs := testing.AllocsPerRun(10, func() {
		Gemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
	})
	require.LessOrEqual(t, allocs, 0.5)
}

var gemmShapes = [][3]int{{512, 512, 512}, {1024, 256, 1024}, {4096, 256, 1024}} // M×K×N

func BenchmarkGemm(b *testing.B) {
	for _, s := range gemmShapes {
		m, k, n := s[0], s[1], s[2]
		b.Run(fmt.Sprintf("bfc/%dx%dx%d", m, k, n), func(b *testing.B) {
			x, y, z := benchMats(m, k, n)
			for b.Loop() {
				Gemm(false, false, m, n, k, 1, x, k, y, n, 0, z, n)
			}
			b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run(fmt.Sprintf("gonum/%dx%dx%d", m, k, n), func(b *testing.B) {
			x, y, z := benchMats(m, k, n)
			var impl gonum.Implementation
			for b.Loop() {
				impl.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, x, k, y, n, 0, z, n)
			}
			b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// benchMats returns nonzero A, B and a C for an m×k×n product (gonum skips
// zero entries, so zeros would flatter it).
func benchMats(m, k, n int) (a, b, c []float32) {
	a, b, c = make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
	for i := range a {
		a[i] = float32(i%13+1) * 0.01
	}
	for i := range b {
		b[i] = float32(i%7+1) * 0.01
	}
	return a, b, c
}
