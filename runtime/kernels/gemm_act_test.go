package kernels

import (
	"fmt"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// checkGemmActCase runs GemmAct and Gemm followed by Activate on the same
// inputs and requires C and out to match bit for bit. C and out have
// leading dimensions n+pad and n+2*pad. It then runs GemmAct with out = C
// (the planner's in-place placement), which must give act(C) in C's m×n
// block and leave its padding alone.
func checkGemmActCase[F Float](t *testing.T, act Act, tA, tB bool, m, n, k int, beta float64, pad int) {
	t.Helper()
	r := newRand(uint64(m*1000003 + n*1009 + k))
	lda, ldb, ldc, ldo := k+pad, n+pad, n+pad, n+2*pad
	ar, br := m, k
	if tA {
		lda, ar = m+pad, k
	}
	if tB {
		ldb, br = k+pad, n
	}
	lda, ldb = max(lda, 1), max(ldb, 1)
	a, b := randSlice[F](r, max(ar*lda, 1)), randSlice[F](r, max(br*ldb, 1))
	c0 := randSlice[F](r, max(m*ldc, 1))
	want, got := append([]F(nil), c0...), append([]F(nil), c0...)
	wantOut, gotOut := randSlice[F](r, max(m*ldo, 1)), make([]F, max(m*ldo, 1))
	copy(gotOut, wantOut)
	Gemm(tA, tB, m, n, k, 0.75, a, lda, b, ldb, F(beta), want, ldc)
	for i := range m {
		Activate(act, wantOut[i*ldo:i*ldo+n], want[i*ldc:i*ldc+n])
	}
	GemmAct(act, tA, tB, m, n, k, 0.75, a, lda, b, ldb, F(beta), got, ldc, gotOut, ldo)
	desc := fmt.Sprintf("%v tA=%v tB=%v m=%d n=%d k=%d beta=%v", act, tA, tB, m, n, k, beta)
	requireSameBits(t, want, got, "C "+desc)
	requireSameBits(t, wantOut, gotOut, "out "+desc)

	wantIn, gotIn := append([]F(nil), want...), append([]F(nil), c0...)
	for i := range m {
		Activate(act, wantIn[i*ldc:i*ldc+n], wantIn[i*ldc:i*ldc+n])
	}
	GemmAct(act, tA, tB, m, n, k, 0.75, a, lda, b, ldb, F(beta), gotIn, ldc, gotIn, ldc)
	requireSameBits(t, wantIn, gotIn, "in place "+desc)
}

func requireSameBits[F Float](t *testing.T, want, got []F, desc string) {
	t.Helper()
	for i := range want {
		w, g := float64(want[i]), float64(got[i])
		if math.Float64bits(w) != math.Float64bits(g) && !(math.IsNaN(w) && math.IsNaN(g)) {
			t.Fatalf("%s: element %d = %v, want %v", desc, i, g, w)
		}
	}
}

func testGemmAct[F Float](t *testing.T) {
	sizes := []int{1, 5, 13, 37, 100}
	if testing.Short() {
		sizes = []int{1, 13, 37}
	}
	n := 0
	for _, m := range sizes {
		for _, nn := range sizes {
			for _, k := range append([]int{0}, sizes...) {
				v := n % 4
				checkGemmActCase[F](t, allActs[n%len(allActs)], v&1 != 0, v&2 != 0, m, nn, k, float64(n/4%2), n%3)
				n++
			}
		}
	}
	// Parallel products with edge chunks, every variant, beta 0 and 1.
	for _, s := range [][3]int{{300, 300, 300}, {300, 257, 129}, {129, 600, 37}} {
		for v := range 4 {
			for beta := range 2 {
				checkGemmActCase[F](t, allActs[(v+beta)%len(allActs)], v&1 != 0, v&2 != 0, s[0], s[1], s[2], float64(beta), v%2)
			}
		}
	}
	// Wide chunks that pack A (see testSgemmTiles), on one goroutine.
	old, minA := runtime.GOMAXPROCS(1), sgemmPackMinA
	sgemmPackMinA = 0
	defer func() { runtime.GOMAXPROCS(old); sgemmPackMinA = minA }()
	for _, s := range [][3]int{{97, 515, 300}, {200, 1030, 13}} {
		for v := range 4 {
			checkGemmActCase[F](t, ActGELU, v&1 != 0, v&2 != 0, s[0], s[1], s[2], float64(v/2), 1)
		}
	}
}

func TestGemmActFloat32(t *testing.T) { forEachSgemm(t, testGemmAct[float32]) }
func TestGemmActFloat64(t *testing.T) { testGemmAct[float64](t) }

// TestGemmActInPlace: out = c gives C = act(product).
func TestGemmActInPlace(t *testing.T) {
	r := newRand(5)
	const m, n, k = 70, 90, 50
	a, b := randSlice[float32](r, m*k), randSlice[float32](r, k*n)
	want, got := make([]float32, m*n), make([]float32, m*n)
	Gemm(false, false, m, n, k, 1, a, k, b, n, 0, want, n)
	Activate(ActSiLU, want, want)
	GemmAct(ActSiLU, false, false, m, n, k, 1, a, k, b, n, 0, got, n, got, n)
	requireSameBits(t, want, got, "in place")
}

func TestGemmActPanics(t *testing.T) {
	f := make([]float32, 4)
	require.PanicsWithValue(t, "kernels.GemmAct: out has 3 elements, need 4 for 2×2 with ld 2", func() {
		GemmAct(ActReLU, false, false, 2, 2, 2, 1, f, 2, f, 2, 0, f, 2, make([]float32, 3), 2)
	})
	require.PanicsWithValue(t, "kernels.GemmAct: ldout=1 < 2 columns", func() {
		GemmAct(ActReLU, false, false, 2, 2, 2, 1, f, 2, f, 2, 0, f, 2, f, 1)
	})
	require.PanicsWithValue(t, "kernels.GemmAct: A has 3 elements, need 4 for 2×2 with ld 2", func() {
		GemmAct(ActReLU, false, false, 2, 2, 2, 1, f[:3], 2, f, 2, 0, f, 2, f, 2)
	})
	require.Panics(t, func() {
		GemmAct(Act(99), false, false, 2, 2, 2, 1, f, 2, f, 2, 0, f, 2, f, 2)
	})
	// Empty products are fine.
	GemmAct[float32](ActGELU, false, false, 0, 0, 0, 1, nil, 1, nil, 1, 0, nil, 1, nil, 1)
}

func TestGemmActAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	forEachSgemm(t, func(t *testing.T) {
		for _, s := range [][3]int{{256, 256, 256}, {13, 17, 300}} {
			m, n, k := s[0], s[1], s[2]
			a, b, c, y := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n), make([]float32, m*n)
			GemmAct(ActGELU, false, false, m, n, k, 1, a, k, b, n, 0, c, n, y, n)
			allocs := testing.AllocsPerRun(10, func() {
				GemmAct(ActGELU, false, false, m, n, k, 1, a, k, b, n, 0, c, n, y, n)
				GemmAct(ActSiLU, true, true, m, n, k, 1, a, m, b, k, 1, c, n, y, n)
			})
			require.LessOrEqual(t, allocs, 0.5)
		}
	})
}

// BenchmarkGemmAct compares Gemm then Activate with GemmAct at the first
// matmul of the reference block's MLP (2048 tokens, 256 → 1024, GELU) on
// 1 and 2 threads. The two alternate within every iteration, so that load
// from elsewhere on the machine hits both alike; each is reported in
// ns per call (unfused-ns, fused-ns) with their ratio.
func BenchmarkGemmAct(b *testing.B) {
	const m, k, n = 2048, 256, 1024
	x, w, h := benchMats(m, k, n)
	y := make([]float32, m*n)
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			old := runtime.GOMAXPROCS(threads)
			defer runtime.GOMAXPROCS(old)
			var unfused, fused time.Duration
			for b.Loop() {
				t0 := time.Now()
				Gemm(false, false, m, n, k, 1, x, k, w, n, 0, h, n)
				Activate(ActGELU, y, h)
				t1 := time.Now()
				GemmAct(ActGELU, false, false, m, n, k, 1, x, k, w, n, 0, h, n, y, n)
				unfused, fused = unfused+t1.Sub(t0), fused+time.Since(t1)
			}
			b.ReportMetric(float64(unfused.Nanoseconds())/float64(b.N), "unfused-ns")
			b.ReportMetric(float64(fused.Nanoseconds())/float64(b.N), "fused-ns")
			b.ReportMetric(float64(fused)/float64(unfused), "fused/unfused")
		})
	}
}
