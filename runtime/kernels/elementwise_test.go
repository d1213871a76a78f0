package kernels

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestElementwise(t *testing.T) {
	r := newRand(2)
	for _, n := range []int{0, 1, 3, 4, 5, 17, 100} {
		a, b := randSlice[float32](r, n), randSlice[float32](r, n)
		y := make([]float32, n)
		Add(y, a, b)
		for i := range y {
			require.Equal(t, a[i]+b[i], y[i])
		}
		d := make([]float32, n)
		copy(d, a)
		AddTo(d, b)
		require.Equal(t, y, d)
		Add(a, a, b) // aliasing
		require.Equal(t, y, a)
		Scale(d, 2)
		for i := range d {
			require.Equal(t, 2*y[i], d[i])
		}
		var ss float64
		for _, v := range y {
			ss += float64(v) * float64(v)
		}
		require.InDelta(t, ss, SumSquares(y), 1e-9*(1+ss))
		require.True(t, AllFinite(y))
		Zero(d)
		require.Equal(t, make([]float32, n), d)
	}
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		x := []float64{1, 2, bad, 3, 4}
		require.False(t, AllFinite(x))
		require.False(t, AllFinite([]float32{0, float32(bad)}))
	}
	require.Panics(t, func() { Add(make([]float32, 3), make([]float32, 2), make([]float32, 3)) })
}

// TestRowOps checks ScaleTo, Axpy and Dot, the row operations of the moe
// dispatch and combine, in float32 and float64 against float64 loops.
func TestRowOps(t *testing.T) {
	testRowOps[float32](t, 1.2e-7)
	testRowOps[float64](t, 1e-15)
}

func testRowOps[F Float](t *testing.T, eps float64) {
	r := newRand(3)
	for _, n := range []int{0, 1, 5, 16, 17, 100, 256} {
		x, d := randSlice[F](r, n), randSlice[F](r, n)
		const a = -1.75
		y := make([]F, n)
		ScaleTo(y, x, a)
		dd := append([]F(nil), d...)
		Axpy(dd, x, a)
		var dot, mag float64
		for i := range x {
			require.InDelta(t, a*float64(x[i]), float64(y[i]), eps*math.Abs(a*float64(x[i])), "ScaleTo n=%d i=%d", n, i)
			want := float64(d[i]) + a*float64(x[i])
			require.InDelta(t, want, float64(dd[i]), eps*(math.Abs(float64(d[i]))+math.Abs(a*float64(x[i]))), "Axpy n=%d i=%d", n, i)
			dot += float64(x[i]) * float64(d[i])
			mag += math.Abs(float64(x[i]) * float64(d[i]))
		}
		require.InDelta(t, dot, Dot(x, d), 4*eps*mag+1e-300, "Dot n=%d", n)
		x0 := append([]F(nil), x...)
		ScaleTo(x, x, 2) // in place
		for i := range x {
			require.Equal(t, 2*x0[i], x[i])
		}
	}
	require.Panics(t, func() { Axpy(make([]F, 3), make([]F, 2), 1) })
	require.Panics(t, func() { Dot(make([]F, 3), make([]F, 2)) })
}

func TestEmbed(t *testing.T) {
	r := newRand(3)
	const vocab, d = 7, 5
	table := randSlice[float64](r, vocab*d)
	tokens := []int32{3, 0, 6, 3}
	y := make([]float64, len(tokens)*d)
	Embed(y, table, tokens, d)
	for i, tok := range tokens {
		require.Equal(t, table[int(tok)*d:int(tok)*d+d], y[i*d:i*d+d])
	}
	dy := randSlice[float64](r, len(y))
	init := randSlice[float64](r, len(table))
	dt := clone(init)
	EmbedBackward(dt, dy, tokens, d)
	want := clone(init)
	for i, tok := range tokens {
		for j := range d {
			want[int(tok)*d+j] += dy[i*d+j]
		}
	}
	require.InDeltaSlice(t, want, dt, 1e-12)
	gradCheck(t, "table", table, func() float64 {
		Embed(y, table, tokens, d)
		return dotLoss(dy, y)
	}, accumulated(dt, init))
	require.Panics(t, func() { Embed(y, table, []int32{7}, d) })
	require.Panics(t, func() { Embed(y, table, []int32{-1}, d) })
}

func TestPosEmbed(t *testing.T) {
	r := newRand(4)
	const batch, seq, d = 3, 4, 5
	x := randSlice[float64](r, batch*seq*d)
	pos := randSlice[float64](r, seq*d)
	y := make([]float64, len(x))
	AddPosEmbed(y, x, pos, batch, seq, d)
	for b := range batch {
		for s := range seq {
			for j := range d {
				require.Equal(t, x[(b*seq+s)*d+j]+pos[s*d+j], y[(b*seq+s)*d+j])
			}
		}
	}
	AddPosEmbed(x, x, pos, batch, seq, d) // aliasing
	require.Equal(t, y, x)
	dy := randSlice[float64](r, len(y))
	init := randSlice[float64](r, len(pos))
	dpos := clone(init)
	AddPosEmbedBackward(dpos, dy, batch, seq, d)
	gradCheck(t, "pos", pos, func() float64 {
		AddPosEmbed(y, x, pos, batch, seq, d)
		return dotLoss(dy, y)
	}, accumulated(dpos, init))
}
