package kernels

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// refBF16 rounds x to bfloat16 from first principles: the two bfloat16
// neighbours of x found by truncation, the nearer one taken by float64
// distance, ties to the one with an even last bit.
func refBF16(x float32) uint16 {
	u := math.Float32bits(x)
	switch {
	case x != x:
		return uint16(u>>16) | 0x40
	case math.IsInf(float64(x), 0):
		return uint16(u >> 16)
	}
	lo := uint16(u >> 16) // truncated towards zero
	hi := lo + 1          // next away from zero (may be ±Inf)
	val := func(h uint16) float64 { return float64(math.Float32frombits(uint32(h) << 16)) }
	dl := math.Abs(float64(x) - val(lo))
	var dh float64
	if hi&0x7fff == 0x7f80 {
		// Past the largest finite bfloat16: the tie point is where
		// the next binade would start.
		dh = math.Abs(math.Abs(float64(x)) - math.Ldexp(1, 128))
	} else {
		dh = math.Abs(float64(x) - val(hi))
	}
	switch {
	case dl < dh:
		return lo
	case dh < dl:
		return hi
	case lo&1 == 0:
		return lo
	}
	return hi
}

// bf16Cases returns float32 values covering every bfloat16 with low
// halves at the rounding boundaries, plus random ones.
func bf16Cases() []float32 {
	lows := []uint32{0, 1, 0x7fff, 0x8000, 0x8001, 0xffff, 0x4000, 0xc000}
	xs := make([]float32, 0, 1<<16*(len(lows)+1))
	r := newRand(3)
	for hi := range uint32(1 << 16) {
		for _, lo := range lows {
			xs = append(xs, math.Float32frombits(hi<<16|lo))
		}
		xs = append(xs, math.Float32frombits(hi<<16|uint32(r.Uint32()&0xffff)))
	}
	return xs
}

func sameBits(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }

func TestToBF16(t *testing.T) {
	for _, x := range bf16Cases() {
		want := refBF16(x)
		if got := ToBF16(x); uint16(got) != want {
			t.Fatalf("ToBF16(%v = %#08x) = %#04x, want %#04x", x, math.Float32bits(x), got, want)
		}
	}
	// Named cases, to read alongside the reference.
	cases := []struct {
		in   uint32
		want uint16
	}{
		{0x3f808000, 0x3f80},                     // tie, even below
		{0x3f818000, 0x3f82},                     // tie, odd below: up
		{0x3f808001, 0x3f81},                     // above the tie
		{0x7f7fffff, 0x7f80},                     // largest float32: +Inf
		{0x7f7f7fff, 0x7f7f},                     // just below the tie: largest bfloat16
		{0xff800000, 0xff80},                     // -Inf
		{0x7f800001, 0x7fc0},                     // signalling NaN: quiet, not Inf
		{0xffffffff, 0xffff},                     // NaN with every payload bit
		{0x00008000, 0x0000},                     // denormal tie: even (zero)
		{0x00018000, 0x0002},                     // denormal tie, odd below: up
		{0x80000001, 0x8000},                     // tiny negative denormal: -0
		{math.Float32bits(1 + 1.0/1024), 0x3f80}, // 1 + 2⁻¹⁰ is 1 in bfloat16
	}
	for _, c := range cases {
		if got := ToBF16(math.Float32frombits(c.in)); uint16(got) != c.want {
			t.Errorf("ToBF16(%#08x) = %#04x, want %#04x", c.in, got, c.want)
		}
		if got := refBF16(math.Float32frombits(c.in)); got != c.want {
			t.Errorf("refBF16(%#08x) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
	if h := ToBF16(float32(math.NaN())); !math.IsNaN(float64(h.Float32())) {
		t.Errorf("NaN became %v", h.Float32())
	}
}

// TestRoundBF16s checks the vectorised rounding (and its masked tail at
// every length) against ToBF16, and the encode and decode loops.
func TestRoundBF16s(t *testing.T) {
	xs := bf16Cases()
	got := make([]float32, len(xs))
	RoundBF16s(got, xs)
	for i, x := range xs {
		if want := ToBF16(x).Float32(); !sameBits(got[i], want) {
			t.Fatalf("RoundBF16s[%d](%#08x) = %#08x, want %#08x", i, math.Float32bits(x), math.Float32bits(got[i]), math.Float32bits(want))
		}
	}
	for n := range 40 {
		src := xs[1000 : 1000+n]
		dst := make([]float32, n+1)
		dst[n] = 7
		RoundBF16s(dst, src)
		require.Equal(t, float32(7), dst[n], "n=%d: element past the end written", n)
		for i := range n {
			require.True(t, sameBits(dst[i], RoundBF16(src[i])), "n=%d i=%d", n, i)
		}
	}
	// The packers' conversions: narrowing and pairing.
	nb := make([]uint16, len(xs))
	narrowBF16(nb, xs)
	pb := make([]uint16, 2*(len(xs)-1))
	pairBF16(pb, xs[:len(xs)-1], xs[1:])
	for i, x := range xs {
		want := uint16(ToBF16(x))
		require.Equal(t, want, nb[i], "narrow %#08x", math.Float32bits(x))
		if i < len(xs)-1 {
			require.Equal(t, want, pb[2*i], "pair lo %#08x", math.Float32bits(x))
		}
		if i > 0 {
			require.Equal(t, want, pb[2*i-1], "pair hi %#08x", math.Float32bits(x))
		}
	}
	for n := range 40 {
		d := make([]uint16, 2*n+2)
		d[2*n], d[2*n+1] = 7, 7
		pairBF16(d, xs[2000:2000+n], xs[3000:3000+n])
		narrowBF16(d[2*n+1:], nil)
		require.Equal(t, []uint16{7, 7}, d[2*n:], "n=%d: past the end written", n)
		for i := range n {
			require.Equal(t, uint16(ToBF16(xs[2000+i])), d[2*i])
			require.Equal(t, uint16(ToBF16(xs[3000+i])), d[2*i+1])
		}
		d = d[:n+1]
		d[n] = 9
		narrowBF16(d, xs[4000:4000+n])
		require.Equal(t, uint16(9), d[n], "n=%d: narrow past the end", n)
	}
	in := append([]float32(nil), xs[:100]...)
	RoundBF16s(in, in) // in place
	h := make([]BF16, 100)
	EncodeBF16(h, xs[:100])
	back := make([]float32, 100)
	DecodeBF16(back, h)
	for i := range back {
		require.True(t, sameBits(back[i], in[i]), "i=%d", i)
	}
}

// bf16ImplNames are the bf16 implementations bfc knows.
var bf16ImplNames = []string{"convert", "avx512bf16", "amx"}

// forEachBgemm runs f once per bf16 implementation. Missing ones are
// skipped, except that BFC_REQUIRE_BF16=1 makes a missing AVX512_BF16 a
// failure and BFC_REQUIRE_AMX=1 a missing AMX.
func forEachBgemm(t *testing.T, f func(t *testing.T)) {
	for _, name := range bf16ImplNames {
		t.Run(name, func(t *testing.T) {
			var s *bgemmImpl
			for _, x := range bgemmImpls {
				if x.name == name {
					s = x
				}
			}
			required := name == "avx512bf16" && os.Getenv("BFC_REQUIRE_BF16") == "1" ||
				name == "amx" && os.Getenv("BFC_REQUIRE_AMX") == "1"
			switch {
			case (s == nil || !s.available) && required:
				t.Fatalf("%s is required but not built or not supported here", name)
			case s == nil:
				t.Skip("not built into this binary (purego or not amd64)")
			case !s.available:
				t.Skip("CPU or OS lacks " + name)
			}
			old := bgemmUse
			bgemmUse = s
			defer func() { bgemmUse = old }()
			f(t)
		})
	}
}

// bf16UnderTest is GemmBF16 with its reference: float64 products of the
// operands rounded to bfloat16.
var bf16UnderTest = gemmUnderTest[float32]{
	run: GemmBF16,
	round: func(x []float64) {
		for i, v := range x {
			x[i] = float64(RoundBF16(float32(v)))
		}
	},
}

func checkBF16Case(t *testing.T, tA, tB bool, m, n, k int, alpha, beta float64, pad int) {
	t.Helper()
	checkGemmOn(t, bf16UnderTest, newRand(uint64(m*7919+n*31+k)), tA, tB, m, n, k, alpha, beta, pad, nil)
}

// TestGemmBF16 sweeps shapes across every tile (12×32, 32×32), pair and
// tile depth (2, 32), slice of k (512) and chunk, all transposes, alpha
// and beta, with guard regions around C.
func TestGemmBF16(t *testing.T) {
	forEachBgemm(t, func(t *testing.T) {
		ms := []int{0, 1, 11, 12, 13, 31, 32, 33, 97}
		ns := []int{0, 1, 31, 32, 33, 65}
		ks := []int{0, 1, 2, 3, 31, 32, 33, 64, 511, 513}
		if testing.Short() {
			ms, ns, ks = []int{1, 13, 33}, []int{1, 33}, []int{1, 3, 33, 513}
		}
		coefs := [][2]float64{{1, 0}, {1, 1}, {0.5, -2}, {-1.5, 0}, {0, 0.5}}
		i := 0
		for _, m := range ms {
			for _, n := range ns {
				for _, k := range ks {
					co := coefs[i%len(coefs)]
					checkBF16Case(t, i&1 != 0, i&2 != 0, m, n, k, co[0], co[1], i%3)
					i++
				}
			}
		}
		// Parallel chunks, several slices of k, edge tiles.
		for _, s := range [][3]int{{300, 257, 129}, {129, 600, 1100}, {513, 70, 515}} {
			for v := range 4 {
				checkBF16Case(t, v&1 != 0, v&2 != 0, s[0], s[1], s[2], 0.7, 0.3, 5)
			}
		}
	})
}

// TestGemmBF16Rounds checks that operands really are rounded: with a = 1 +
// 2⁻¹⁰ (1 in bfloat16) and b = 1 + 2⁻⁷ + 2⁻¹⁰ (1 + 2⁻⁷), a float32
// product would give 1.0088, bf16 exactly 1 + 2⁻⁷ per term.
func TestGemmBF16Rounds(t *testing.T) {
	forEachBgemm(t, func(t *testing.T) {
		for _, k := range []int{1, 2, 33, 100} {
			a := make([]float32, 40*k)
			b := make([]float32, k*40)
			for i := range a {
				a[i] = 1 + 1.0/1024
			}
			for i := range b {
				b[i] = 1 + 1.0/128 + 1.0/1024
			}
			c := make([]float32, 40*40)
			GemmBF16(false, false, 40, 40, k, 1, a, k, b, 40, 0, c, 40)
			want := float32(k) * (1 + 1.0/128)
			for i, v := range c {
				if v != want {
					t.Fatalf("k=%d: C[%d] = %v, want %v", k, i, v, want)
				}
			}
		}
	})
}

// TestGemmBF16NaNInf plants NaN and ±Inf in the operands: they must reach
// exactly the elements of C the float64 reference says.
func TestGemmBF16NaNInf(t *testing.T) {
	forEachBgemm(t, func(t *testing.T) {
		r := newRand(5)
		for _, s := range [][3]int{{13, 33, 20}, {33, 65, 300}, {1, 1, 1}, {32, 32, 7}} {
			m, n, k := s[0], s[1], s[2]
			for v := range 4 {
				tA, tB := v&1 != 0, v&2 != 0
				poison := func(a, b []float32) {
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
				checkGemmOn(t, bf16UnderTest, r, tA, tB, m, n, k, 1.5, 0.5, v, poison)
				checkGemmOn(t, bf16UnderTest, r, tA, tB, m, n, k, 1, 0, v, poison)
			}
		}
	})
}

// TestGemmBF16ProcsIndependent checks that the number of cores does not
// change a bit of the result.
func TestGemmBF16ProcsIndependent(t *testing.T) {
	forEachBgemm(t, func(t *testing.T) {
		r := newRand(13)
		for v := range 4 {
			tA, tB := v&1 != 0, v&2 != 0
			m, n, k := 301, 555, 700
			a, lda, b, ldb := denseOperands(r, tA, tB, m, n, k)
			c0 := randSlice[float32](r, m*n)
			var ref []float32
			for _, procs := range []int{1, 2, 3, 8} {
				old := runtime.GOMAXPROCS(procs)
				c := append([]float32(nil), c0...)
				GemmBF16(tA, tB, m, n, k, 0.5, a, lda, b, ldb, 0.25, c, n)
				runtime.GOMAXPROCS(old)
				if ref == nil {
					ref = c
					continue
				}
				for i := range c {
					if !sameBits(c[i], ref[i]) {
						t.Fatalf("tA=%v tB=%v procs=%d: C[%d] = %v, with 1 core %v", tA, tB, procs, i, c[i], ref[i])
					}
				}
			}
		}
	})
}

// TestGemmActBF16 checks the activation epilogue against GemmBF16 then
// Activate.
func TestGemmActBF16(t *testing.T) {
	forEachBgemm(t, func(t *testing.T) {
		r := newRand(17)
		m, n, k := 97, 130, 70
		a, lda, b, ldb := denseOperands(r, false, false, m, n, k)
		c := make([]float32, m*n)
		out := make([]float32, m*n)
		GemmActBF16(ActGELU, false, false, m, n, k, 1, a, lda, b, ldb, 0, c, n, out, n)
		c2 := make([]float32, m*n)
		GemmBF16(false, false, m, n, k, 1, a, lda, b, ldb, 0, c2, n)
		want := make([]float32, m*n)
		Activate(ActGELU, want, c2)
		for i := range c {
			require.True(t, sameBits(c[i], c2[i]), "C[%d]", i)
			require.True(t, sameBits(out[i], want[i]), "out[%d]", i)
		}
	})
}

func TestGemmBF16Allocs(t *testing.T) {
	forEachBgemm(t, func(t *testing.T) {
		r := newRand(19)
		a, lda, b, ldb := denseOperands(r, false, true, 256, 256, 256)
		c := make([]float32, 256*256)
		GemmBF16(false, true, 256, 256, 256, 1, a, lda, b, ldb, 0, c, 256)
		allocs := testing.AllocsPerRun(20, func() {
			GemmBF16(false, true, 256, 256, 256, 1, a, lda, b, ldb, 0, c, 256)
		})
		if allocs > 0 {
			t.Errorf("%v allocations per call", allocs)
		}
	})
}

func BenchmarkGemmBF16(b *testing.B) {
	for _, s := range [][3]int{{512, 512, 512}, {1024, 256, 1024}, {4096, 256, 1024}, {4096, 512, 2048}} {
		m, k, n := s[0], s[1], s[2]
		for _, name := range bf16ImplNames {
			var impl *bgemmImpl
			for _, x := range bgemmImpls {
				if x.name == name && x.available {
					impl = x
				}
			}
			if impl == nil {
				continue
			}
			b.Run(fmt.Sprintf("%s/%dx%dx%d", name, m, k, n), func(b *testing.B) {
				old := bgemmUse
				bgemmUse = impl
				defer func() { bgemmUse = old }()
				x, w, c := benchMats(m, k, n)
				for b.Loop() {
					GemmBF16(false, false, m, n, k, 1, x, k, w, n, 0, c, n)
				}
				reportGFLOPs(b, m, n, k)
			})
		}
	}
}

// TestTransposePairs checks the word transpose of the packers on every
// path (32 rows into 32-wide rows, the gather kernel with its masked
// tail, the loop) against a naive one.
func TestTransposePairs(t *testing.T) {
	r := newRand(23)
	for _, s := range [][4]int{{32, 7, 40, 32}, {32, 50, 50, 32}, {1, 1, 1, 1}, {5, 3, 9, 6}, {17, 33, 40, 20}, {64, 16, 16, 70}, {12, 130, 130, 12}, {256, 32, 32, 260}} {
		rows, cols, lds, ldd := s[0], s[1], s[2], s[3]
		src := make([]uint16, 2*rows*lds)
		for i := range src {
			src[i] = uint16(r.Uint32())
		}
		dst := make([]uint16, 2*cols*ldd)
		for i := range dst {
			dst[i] = 0xbeef
		}
		want := append([]uint16(nil), dst...)
		for q := range cols {
			for rr := range rows {
				want[2*(q*ldd+rr)], want[2*(q*ldd+rr)+1] = src[2*(rr*lds+q)], src[2*(rr*lds+q)+1]
			}
		}
		transposePairs(dst, ldd, src, lds, rows, cols)
		require.Equal(t, want, dst, "rows %d cols %d lds %d ldd %d", rows, cols, lds, ldd)
	}
}

// BenchmarkBF16Kernel times the micro-kernels alone on packed panels in
// L1/L2 (one tile, or a row of 16 tiles for the AMX row kernel): the
// ceiling the engine's packing and blocking are measured against.
func BenchmarkBF16Kernel(b *testing.B) {
	const kp = 512
	for _, s := range bgemmImpls {
		if s.kernel == nil || !s.available {
			continue
		}
		a := make([]uint16, s.mr*kp)
		bp := make([]uint16, 16*kp*s.nr)
		for i := range a {
			a[i] = uint16(ToBF16(float32(i%7) - 3))
		}
		for i := range bp {
			bp[i] = uint16(ToBF16(float32(i%5) - 2))
		}
		c := make([]float32, s.mr*16*s.nr)
		t := aligned64(32 * 32)
		b.Run(s.name+"/tile", func(b *testing.B) {
			for b.Loop() {
				s.kernel(kp, &a[0], &bp[0], &c[0], 16*s.nr, 1, 0, &t[0])
			}
			b.ReportMetric(2*float64(s.mr*s.nr*kp)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		if s.kernelRow != nil {
			b.Run(s.name+"/row16", func(b *testing.B) {
				for b.Loop() {
					s.kernelRow(kp, &a[0], &bp[0], 16, kp*s.nr, &c[0], 16*s.nr, 0)
				}
				b.ReportMetric(2*float64(16*s.mr*s.nr*kp)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
