package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sync"
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

// testSgemmTiles sweeps m, n and k across multiples of every registered
// micro-tile (6×16, 12×32) and block depth (256), plus remainders.
func testSgemmTiles(t *testing.T) {
	r := newRand(7)
	ms := []int{0, 1, 5, 6, 7, 11, 12, 13, 24, 25, 37}
	ns := []int{0, 1, 15, 16, 17, 31, 32, 33, 64, 65, 97}
	ks := []int{0, 1, 2, 9, 64, 255, 256, 257, 513}
	coefs := [][2]float64{{1, 0}, {1, 1}, {0.5, -2}, {-1.5, 0}, {2, 0.25}}
	if testing.Short() {
		ms, ns, ks = []int{0, 1, 12, 13, 25}, []int{0, 1, 16, 33, 65}, []int{0, 1, 9, 257}
	}
	n := 0
	for _, m := range ms {
		for _, nn := range ns {
			for _, k := range ks {
				v := n % 4
				co := coefs[n%len(coefs)]
				n++
				checkGemmCase[float32](t, r, v&1 != 0, v&2 != 0, m, nn, k, co[0], co[1], 1+n%7)
			}
		}
	}
	// Every transpose variant on shapes that cover several chunks, full
	// and partial tiles, and three blocks of k.
	for _, s := range [][3]int{{97, 161, 600}, {300, 257, 129}, {61, 1000, 40}} {
		for v := range 4 {
			checkGemmCase[float32](t, r, v&1 != 0, v&2 != 0, s[0], s[1], s[2], 0.7, 0, 3)
			checkGemmCase[float32](t, r, v&1 != 0, v&2 != 0, s[0], s[1], s[2], -1, 1, 0)
		}
	}
	// Chunks wide enough to pack A (sgemmPackMinN columns and more, on
	// one goroutine): rows across sgemmMC blocks with a partial last
	// panel, a partial last column panel, several blocks of k, and a
	// second column block narrower than sgemmPackMinN (n > sgemmNC).
	// sgemmPackMinA = 0 packs A at these small sizes.
	old, minA := runtime.GOMAXPROCS(1), sgemmPackMinA
	sgemmPackMinA = 0
	defer func() { runtime.GOMAXPROCS(old); sgemmPackMinA = minA }()
	for _, s := range [][3]int{{97, 515, 300}, {193, 600, 257}, {25, 512, 9}, {200, 1030, 40}, {2100, 530, 9}} {
		for v := range 4 {
			checkGemmCase[float32](t, r, v&1 != 0, v&2 != 0, s[0], s[1], s[2], 0.7, 0, 3)
			checkGemmCase[float32](t, r, v&1 != 0, v&2 != 0, s[0], s[1], s[2], -1, 1, 0)
		}
	}
}

func checkGemmCase[F Float](t *testing.T, r interface{ Float64() float64 }, tA, tB bool, m, n, k int, alpha, beta float64, pad int) {
	t.Helper()
	checkGemmCaseWith[F](t, r, tA, tB, m, n, k, alpha, beta, pad, nil)
}

// checkGemmCaseWith runs one product against naiveGemm. C sits between
// guard regions that must stay untouched, as must its padding columns;
// poison, if not nil, may plant NaN or Inf in A and B.
func checkGemmCaseWith[F Float](t *testing.T, r interface{ Float64() float64 }, tA, tB bool, m, n, k int, alpha, beta float64, pad int, poison func(a, b []F)) {
	t.Helper()
	checkGemmOn(t, gemmUnderTest[F]{run: Gemm[F]}, r, tA, tB, m, n, k, alpha, beta, pad, poison)
}

// gemmUnderTest is the product a conformance check runs, and how the
// float64 reference sees its operands.
type gemmUnderTest[F Float] struct {
	run   func(tA, tB bool, m, n, k int, alpha F, a []F, lda int, b []F, ldb int, beta F, c []F, ldc int)
	round func(x []float64) // applied to copies of A and B for the reference; nil: none
}

// checkGemmOn is checkGemmCaseWith for the product u.
func checkGemmOn[F Float](t *testing.T, u gemmUnderTest[F], r interface{ Float64() float64 }, tA, tB bool, m, n, k int, alpha, beta float64, pad int, poison func(a, b []F)) {
	t.Helper()
	ar, ac := m, k
	if tA {
		ar, ac = k, m
	}
	br, bc := k, n
	if tB {
		br, bc = n, k
	}
	lda, ldb, ldc := max(ac+pad, 1), max(bc+2*pad, 1), max(n+pad, 1)
	rnd := func(n int) []F {
		x := make([]F, max(n, 0))
		for i := range x {
			x[i] = F(2*r.Float64() - 1)
		}
		return x
	}
	a := rnd((ar-1)*lda + ac)
	b := rnd((br-1)*ldb + bc)
	if poison != nil {
		poison(a, b)
	}
	const guard = 37
	cn := max(0, (m-1)*ldc+n)
	buf := rnd(guard + m*ldc + guard)
	c := buf[guard : guard+cn : guard+cn]
	if beta == 0 {
		// beta == 0 must overwrite even NaN.
		for i := range c {
			c[i] = F(math.NaN())
		}
	}
	wantBuf := to64(buf)
	want := wantBuf[guard:]
	a64, b64 := to64(a), to64(b)
	if u.round != nil {
		u.round(a64)
		u.round(b64)
	}
	naiveGemm(tA, tB, m, n, k, alpha, a64, lda, b64, ldb, beta, want, ldc)
	u.run(tA, tB, m, n, k, F(alpha), a, lda, b, ldb, F(beta), c, ldc)
	tol := tolFor[F]() * (1 + float64(k)/64)
	for i, g := range buf {
		w := wantBuf[i]
		in := i >= guard && i < guard+cn && (i-guard)%ldc < n
		if !in {
			if !(float64(g) == w || math.IsNaN(float64(g)) && math.IsNaN(w)) {
				t.Fatalf("tA=%v tB=%v m=%d n=%d k=%d: element %d outside C changed to %v", tA, tB, m, n, k, i-guard, g)
			}
			continue
		}
		if !closeOrSame(float64(g), w, tol) {
			i, j := (i-guard)/ldc, (i-guard)%ldc
			t.Fatalf("tA=%v tB=%v m=%d n=%d k=%d alpha=%v beta=%v pad=%d: C[%d,%d] = %v, want %v", tA, tB, m, n, k, alpha, beta, pad, i, j, g, w)
		}
	}
}

// closeOrSame reports whether g matches w: the same NaN or infinity, or
// within tol relative to 1+|w|.
func closeOrSame(g, w, tol float64) bool {
	switch {
	case math.IsNaN(w):
		return math.IsNaN(g)
	case math.IsInf(w, 0):
		return g == w
	}
	return math.Abs(g-w) <= tol*(1+math.Abs(w))
}

// sgemmImplNames are the float32 implementations bfc knows; on a given
// build and CPU some are missing or unavailable.
var sgemmImplNames = []string{"generic", "avx2", "avx512"}

// forEachSgemm runs f once per float32 implementation, selected for the
// duration of the subtest. Implementations the CPU lacks are skipped,
// except that BFC_REQUIRE_AVX512=1 makes a missing AVX-512 a failure (on
// builds with assembly).
func forEachSgemm(t *testing.T, f func(t *testing.T)) {
	for _, name := range sgemmImplNames {
		t.Run(name, func(t *testing.T) {
			var s *sgemmImpl
			for _, x := range sgemmImpls {
				if x.name == name {
					s = x
				}
			}
			switch {
			case s == nil:
				t.Skip("not built into this binary (purego or not amd64)")
			case !s.available && name == "avx512" && os.Getenv("BFC_REQUIRE_AVX512") == "1":
				t.Fatal("BFC_REQUIRE_AVX512=1 but the CPU lacks AVX-512F")
			case !s.available:
				t.Skip("CPU lacks the features of " + name)
			}
			old := sgemmUse
			sgemmUse = s
			defer func() { sgemmUse = old }()
			f(t)
		})
	}
}

func TestGemmFloat32(t *testing.T) { forEachSgemm(t, testGemm[float32]) }
func TestGemmTiles(t *testing.T)   { forEachSgemm(t, testSgemmTiles) }

func TestGemmNaNInf(t *testing.T) {
	forEachSgemm(t, func(t *testing.T) {
		r := newRand(5)
		for _, s := range [][3]int{{13, 33, 20}, {25, 65, 300}, {1, 1, 1}, {12, 32, 7}} {
			m, n, k := s[0], s[1], s[2]
			for v := range 4 {
				tA, tB := v&1 != 0, v&2 != 0
				poison := func(a, b []float32) {
					// A NaN in op(A) row m/2, +Inf in op(B) column n/3 and
					// -Inf in column n-1 (all at p = k-1).
					p := k - 1
					if tA {
						a[p*(m+v)+m/2] = float32(math.NaN())
					} else {
						a[(m/2)*(k+v)+p] = float32(math.NaN())
					}
					set := func(j int, x float64) {
						if tB {
							b[j*(k+2*v)+p] = float32(x)
						} else {
							b[p*(n+2*v)+j] = float32(x)
						}
					}
					set(n/3, math.Inf(1))
					set(n-1, math.Inf(-1))
				}
				checkGemmCaseWith[float32](t, r, tA, tB, m, n, k, 1.5, 0.5, v, poison)
				checkGemmCaseWith[float32](t, r, tA, tB, m, n, k, 1, 0, v, poison)
			}
		}
	})
}

// TestGemmProcsIndependent checks that the result does not depend on the
// number of cores: chunk edges never change the order of the sums.
func TestGemmProcsIndependent(t *testing.T) {
	forEachSgemm(t, func(t *testing.T) {
		r := newRand(11)
		// 1100×600 packs A on one core and not on several, as does
		// 301×555 with sgemmPackMinA = 0.
		procsIndependent(t, r, 1100, 600, 300)
		minA := sgemmPackMinA
		defer func() { sgemmPackMinA = minA }()
		for _, sgemmPackMinA = range []int{minA, 0} {
			procsIndependent(t, r, 301, 555, 333)
		}
	})
}

// denseOperands returns random A and B for op(A) m×k and op(B) k×n,
// stored without padding, and their leading dimensions.
func denseOperands(r *rand.Rand, tA, tB bool, m, n, k int) (a []float32, lda int, b []float32, ldb int) {
	a, b = randSlice[float32](r, m*k), randSlice[float32](r, k*n)
	lda, ldb = k, n
	if tA {
		lda = m
	}
	if tB {
		ldb = k
	}
	return a, lda, b, ldb
}

func procsIndependent(t *testing.T, r *rand.Rand, m, n, k int) {
	t.Helper()
	for v := range 4 {
		tA, tB := v&1 != 0, v&2 != 0
		a, lda, b, ldb := denseOperands(r, tA, tB, m, n, k)
		c0 := randSlice[float32](r, m*n)
		var got [][]float32
		for _, procs := range []int{1, 2, 3, 8} {
			old := runtime.GOMAXPROCS(procs)
			c := slices.Clone(c0)
			Gemm(tA, tB, m, n, k, 0.5, a, lda, b, ldb, 0.25, c, n)
			runtime.GOMAXPROCS(old)
			got = append(got, c)
		}
		for i := 1; i < len(got); i++ {
			require.Equal(t, got[0], got[i], "tA=%v tB=%v procs #%d", tA, tB, i)
		}
	}
}

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
	forEachSgemm(t, func(t *testing.T) {
		for _, s := range [][3]int{{256, 256, 256}, {13, 17, 300}} {
			m, n, k := s[0], s[1], s[2]
			a, b, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
			Gemm(false, true, m, n, k, 1, a, k, b, k, 0, c, n)
			allocs := testing.AllocsPerRun(10, func() {
				Gemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
				Gemm(false, true, m, n, k, 1, a, k, b, k, 0, c, n)
			})
			require.LessOrEqual(t, allocs, 0.5)
		}
	})
}

var gemmShapes = [][3]int{{512, 512, 512}, {1024, 256, 1024}, {4096, 256, 1024}, {4096, 512, 2048}} // M×K×N

// BenchmarkGemm runs the shapes of performance.md on every available
// float32 implementation with 1 and 2 threads, and gonum's Sgemm.
func BenchmarkGemm(b *testing.B) {
	for _, s := range gemmShapes {
		m, k, n := s[0], s[1], s[2]
		for _, impl := range sgemmImpls {
			if !impl.available {
				continue
			}
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/%dx%dx%d/threads=%d", impl.name, m, k, n, threads), func(b *testing.B) {
					old, oldProcs := sgemmUse, runtime.GOMAXPROCS(threads)
					defer func() { sgemmUse = old; runtime.GOMAXPROCS(oldProcs) }()
					sgemmUse = impl
					x, y, z := benchMats(m, k, n)
					for b.Loop() {
						Gemm(false, false, m, n, k, 1, x, k, y, n, 0, z, n)
					}
					reportGFLOPs(b, m, n, k)
				})
			}
		}
		b.Run(fmt.Sprintf("gonum/%dx%dx%d", m, k, n), func(b *testing.B) {
			x, y, z := benchMats(m, k, n)
			var impl gonum.Implementation
			for b.Loop() {
				impl.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, x, k, y, n, 0, z, n)
			}
			reportGFLOPs(b, m, n, k)
		})
	}
}

// BenchmarkGemmTrans runs the transposed variants that backward passes
// use (dX = dY·Wᵀ, dW = Xᵀ·dY) on the selected implementation.
func BenchmarkGemmTrans(b *testing.B) {
	m, k, n := 1024, 256, 1024
	for v := range 4 {
		tA, tB := v&1 != 0, v&2 != 0
		b.Run(fmt.Sprintf("%s/tA=%v/tB=%v/%dx%dx%d", sgemmUse.name, tA, tB, m, k, n), func(b *testing.B) {
			x, y, z := benchMats(m, k, n)
			lda, ldb := k, n
			if tA {
				lda = m
			}
			if tB {
				ldb = k
			}
			for b.Loop() {
				Gemm(tA, tB, m, n, k, 1, x, lda, y, ldb, 0, z, n)
			}
			reportGFLOPs(b, m, n, k)
		})
	}
}

func reportGFLOPs(b *testing.B, m, n, k int) {
	b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
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

// BenchmarkSgemmKernel measures each micro-kernel alone on L1-resident
// panels (kc = 256), on one goroutine and on GOMAXPROCS goroutines: the
// ceiling the blocked engine can reach.
func BenchmarkSgemmKernel(b *testing.B) {
	for _, impl := range sgemmImpls {
		if !impl.available || impl.kernel == nil {
			continue
		}
		kc := impl.kc
		run := func(b *testing.B, par bool) {
			a := randSlice[float32](newRand(1), impl.mr*kc)
			bp := randSlice[float32](newRand(2), kc*impl.nr)
			flops := 2 * impl.mr * impl.nr * kc
			if par {
				b.RunParallel(func(pb *testing.PB) {
					c := make([]float32, impl.mr*impl.nr)
					for pb.Next() {
						impl.kernel(kc, &a[0], 1, impl.mr, &bp[0], &c[0], impl.nr, 1, 1)
					}
				})
			} else {
				c := make([]float32, impl.mr*impl.nr)
				for b.Loop() {
					impl.kernel(kc, &a[0], 1, impl.mr, &bp[0], &c[0], impl.nr, 1, 1)
				}
			}
			b.ReportMetric(float64(flops)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		}
		b.Run(impl.name+"/threads=1", func(b *testing.B) { run(b, false) })
		b.Run(fmt.Sprintf("%s/threads=%d", impl.name, runtime.GOMAXPROCS(0)), func(b *testing.B) { run(b, true) })
	}
}

// TestPackAPanels checks the packing of A into mr-row panels, with and
// without the assembly 12-row packer, against its definition.
func TestPackAPanels(t *testing.T) {
	r := newRand(13)
	for _, mr := range []int{6, 12} {
		for _, s := range [][3]int{{12, 1, 12}, {25, 7, 31}, {96, 256, 300}, {13, 33, 40}} {
			rows, kc, lda := s[0], s[1], s[2]
			for _, trans := range []bool{false, true} {
				n := (rows+1)*lda + kc + 1
				if trans {
					n = (kc+1)*lda + rows + 1
				}
				a := randSlice[float32](r, n)
				i0, p0 := 1, 1
				for _, useAsm := range []bool{false, true} {
					old := packA12Asm
					if !useAsm {
						packA12Asm = nil
					}
					dst := randSlice[float32](r, roundUp(rows, mr)*kc)
					packAPanels(dst, a, lda, trans, i0, p0, rows, kc, mr)
					packA12Asm = old
					for ir := 0; ir < rows; ir += mr {
						for p := range kc {
							for q := range mr {
								want := float32(0)
								if i := i0 + ir + q; ir+q < rows {
									if trans {
										want = a[(p0+p)*lda+i]
									} else {
										want = a[i*lda+p0+p]
									}
								}
								require.Equal(t, want, dst[ir*kc+p*mr+q], "mr=%d %v trans=%v asm=%v ir=%d p=%d q=%d", mr, s, trans, useAsm, ir, p, q)
							}
						}
					}
				}
			}
		}
	}
}

// TestGemmSharedB: parallel products sharing one packed B (sgemmShareB)
// match the naive product and the per-chunk packing bit for bit, for
// every transpose and several blocks of k, also with products running
// concurrently (each takes its own shared block).
func TestGemmSharedB(t *testing.T) {
	forEachSgemm(t, func(t *testing.T) {
		if sgemmUse.kernel == nil {
			t.Skip("the generic engine packs nothing")
		}
		old, share := runtime.GOMAXPROCS(4), sgemmShareB
		defer func() { runtime.GOMAXPROCS(old); sgemmShareB = share }()
		r := newRand(12)
		for _, s := range [][3]int{{301, 555, 600}, {500, 100, 257}} {
			m, n, k := s[0], s[1], s[2]
			for v := range 4 {
				tA, tB := v&1 != 0, v&2 != 0
				sgemmShareB = true
				checkGemmCase[float32](t, r, tA, tB, m, n, k, 0.7, 0, 3)
				a, lda, b, ldb := denseOperands(r, tA, tB, m, n, k)
				c0 := randSlice[float32](r, m*n)
				want := slices.Clone(c0)
				sgemmShareB = false
				Gemm(tA, tB, m, n, k, 0.5, a, lda, b, ldb, 0.25, want, n)
				sgemmShareB = true
				got := make([][]float32, 4)
				var wg sync.WaitGroup
				for i := range got {
					got[i] = slices.Clone(c0)
					wg.Go(func() { Gemm(tA, tB, m, n, k, 0.5, a, lda, b, ldb, 0.25, got[i], n) })
				}
				wg.Wait()
				for i := range got {
					require.Equal(t, want, got[i], "%v tA=%v tB=%v product %d", s, tA, tB, i)
				}
			}
		}
	})
}

// TestPackBPanels checks packBPanels, with and without the assembly
// packers, against op(B) read directly: full and partial panels, both
// transposes, strides that are not multiples of a vector.
func TestPackBPanels(t *testing.T) {
	r := newRand(14)
	for _, nr := range []int{16, 32} {
		for _, s := range [][3]int{{1, 32, 40}, {7, 70, 77}, {256, 96, 300}, {33, 64, 65}} {
			kc, nc, ldb := s[0], s[1], s[2]
			for _, trans := range []bool{false, true} {
				p0, j0 := 1, 2
				n := (p0+kc)*ldb + j0 + nc
				if trans {
					n = (j0+nc)*ldb + p0 + kc
				}
				b := randSlice[float32](r, n)
				for _, useAsm := range []bool{false, true} {
					old, oldT := packB32Asm, packBT32Asm
					if !useAsm {
						packB32Asm, packBT32Asm = nil, nil
					}
					dst := randSlice[float32](r, roundUp(nc, nr)*kc)
					packBPanels(dst, b, ldb, trans, p0, j0, kc, nc, nr)
					packB32Asm, packBT32Asm = old, oldT
					for jr := 0; jr < nc; jr += nr {
						for p := range kc {
							for q := range nr {
								want := float32(0)
								if j := j0 + jr + q; jr+q < nc {
									if trans {
										want = b[j*ldb+p0+p]
									} else {
										want = b[(p0+p)*ldb+j]
									}
								}
								require.Equal(t, want, dst[jr*kc+p*nr+q], "nr=%d %v trans=%v asm=%v jr=%d p=%d q=%d", nr, s, trans, useAsm, jr, p, q)
							}
						}
					}
				}
			}
		}
	}
}
