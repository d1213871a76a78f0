package kernels

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGemmStreamB compares GemmStreamB with the float64 reference loop on
// every float32 implementation, all transpositions, edge sizes around the
// micro-tiles, strided operands, alpha/beta and the Gemm fallback (m >
// gemmStreamMaxM), and checks it equals Gemm bit for bit for alpha = 1,
// beta 0 or 1.
func TestGemmStreamB(t *testing.T) {
	forEachSgemm(t, func(t *testing.T) {
		r := newRand(21)
		shapes := [][3]int{{1, 1, 1}, {3, 13, 5}, {12, 32, 256}, {13, 33, 257}, {64, 100, 300}, {7, 1024, 40}, {64, 70, 20}, {65, 70, 20}, {600, 20, 9}, {8, 64, 30}, {20, 96, 600}, {44, 33, 70}, {2, 16, 3}, {130, 100, 300}, {300, 64, 40}}
		for _, sh := range shapes {
			m, n, k := sh[0], sh[1], sh[2]
			for _, tA := range []bool{false, true} {
				for _, tB := range []bool{false, true} {
					for _, ab := range [][2]float32{{1, 0}, {1, 1}, {0.5, -2}} {
						alpha, beta := ab[0], ab[1]
						lda, ldb, ldc := k+3, n+2, n+1
						if tA {
							lda = m + 3
						}
						if tB {
							ldb = k + 2
						}
						ar, br := m, k
						if tA {
							ar = k
						}
						if tB {
							br = n
						}
						a := randSlice[float32](r, ar*lda)
						b := randSlice[float32](r, br*ldb)
						c := randSlice[float32](r, m*ldc)
						want := to64(c)
						naiveGemm(tA, tB, m, n, k, float64(alpha), to64(a), lda, to64(b), ldb, float64(beta), want, ldc)
						got := append([]float32(nil), c...)
						GemmStreamB(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, got, ldc)
						name := fmt.Sprintf("%dx%dx%d tA=%v tB=%v alpha=%v beta=%v", m, n, k, tA, tB, alpha, beta)
						requireClose(t, want, got, 1e-4*float64(k), name)
						if alpha == 1 && (beta == 0 || beta == 1) {
							ref := append([]float32(nil), c...)
							gemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, ref, ldc, false)
							require.Equal(t, ref, got, name)
						}
					}
				}
			}
		}
	})
}

func TestGemmStreamBPanics(t *testing.T) {
	require.PanicsWithValue(t, "kernels.Gemm: B has 5 elements, need 6 for 2×3 with ld 3", func() {
		GemmStreamB(false, false, 1, 3, 2, 1, make([]float32, 2), 2, make([]float32, 5), 3, 0, make([]float32, 3), 3)
	})
}

func TestGemmStreamBAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	r := newRand(22)
	a, b, c := randSlice[float32](r, 64*256), randSlice[float32](r, 256*512), make([]float32, 64*512)
	step := func() {
		GemmStreamB(false, false, 64, 512, 256, 1, a, 256, b, 512, 0, c, 512)
		GemmStreamB(false, true, 64, 256, 512, 1, c, 512, b, 512, 1, a, 256)
	}
	step()
	require.LessOrEqual(t, testing.AllocsPerRun(10, step), 0.5)
}

// BenchmarkGemmStreamB compares Gemm and GemmStreamB on expert-sized
// products (D 256, Hidden 1024) for m tokens, each call on another of 32
// experts' weights so that B comes from memory, as in a MoE layer.
func BenchmarkGemmStreamB(b *testing.B) {
	const d, h, experts = 256, 1024, 32
	r := newRand(23)
	w := randSlice[float32](r, experts*d*h)
	for _, sh := range []struct {
		name   string
		transB bool
		n, k   int
	}{{"x·W1", false, h, d}, {"a·W2", false, d, h}, {"dO·W2ᵀ", true, h, d}, {"dh·W1ᵀ", true, d, h}} {
		for _, m := range []int{64, 128, 512} {
			a := randSlice[float32](r, m*sh.k)
			c := make([]float32, m*sh.n)
			ldb := sh.n
			if sh.transB {
				ldb = sh.k
			}
			for _, impl := range []string{"Gemm", "GemmStreamB"} {
				f := Gemm[float32]
				if impl == "GemmStreamB" {
					f = GemmStreamB[float32]
				}
				b.Run(fmt.Sprintf("%s/m=%d/%s", sh.name, m, impl), func(b *testing.B) {
					e := 0
					for b.Loop() {
						f(false, sh.transB, m, sh.n, sh.k, 1, a, sh.k, w[e*d*h:(e+1)*d*h], ldb, 0, c, sh.n)
						e = (e + 1) % experts
					}
					b.ReportMetric(2*float64(m*sh.n*sh.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}
