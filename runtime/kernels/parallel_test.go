package kernels

import (
	"math"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The tests here use sizes large enough to split into parallel chunks and
// compare with the same kernels run one row (or element) at a time, which
// stays serial and is checked against references elsewhere.

func TestParallelActivations(t *testing.T) {
	r := newRand(20)
	const n = 50000
	for _, a := range allActs {
		x := randSlice[float64](r, n)
		for i := range x {
			x[i] *= 4
		}
		y := make([]float64, n)
		Activate(a, y, x)
		for i := range x {
			require.InDelta(t, refAct(a, x[i]), y[i], 1e-12*(1+math.Abs(y[i])))
		}
		dy := randSlice[float64](r, n)
		dx := randSlice[float64](r, n)
		want := clone(dx)
		ActivateBackward(a, dx, dy, x)
		for i := range x {
			ActivateBackward(a, want[i:i+1], dy[i:i+1], x[i:i+1])
		}
		require.Equal(t, want, dx)

		const rows, hidden = 200, 300
		gx := randSlice[float64](r, rows*2*hidden)
		gy := make([]float64, rows*hidden)
		GLU(a, gy, gx, rows, hidden)
		gdy := randSlice[float64](r, rows*hidden)
		gdx := make([]float64, len(gx))
		GLUBackward(a, gdx, gdy, gx, rows, hidden)
		wy, wdx := make([]float64, len(gy)), make([]float64, len(gdx))
		for i := range rows {
			GLU(a, wy[i*hidden:], gx[i*2*hidden:], 1, hidden)
			GLUBackward(a, wdx[i*2*hidden:], gdy[i*hidden:], gx[i*2*hidden:], 1, hidden)
		}
		require.Equal(t, wy, gy)
		require.Equal(t, wdx, gdx)
	}
}

func TestParallelNorms(t *testing.T) {
	r := newRand(21)
	const rows, d = 1500, 48
	x, g, b := randSlice[float64](r, rows*d), randSlice[float64](r, d), randSlice[float64](r, d)
	dy := randSlice[float64](r, rows*d)

	y, rstd := make([]float64, rows*d), make([]float64, rows)
	RMSNorm(y, rstd, x, g, rows, d, 1e-5)
	wy, wr := naiveRMSNorm(x, g, rows, d, 1e-5)
	requireClose(t, wy, y, 1e-12)
	requireClose(t, wr, rstd, 1e-12)
	dx, dg := make([]float64, rows*d), make([]float64, d)
	RMSNormBackward(dx, dg, dy, x, g, rstd, rows, d)
	wdx, wdg := make([]float64, rows*d), make([]float64, d)
	for i := range rows {
		RMSNormBackward(wdx[i*d:], wdg, dy[i*d:], x[i*d:], g, rstd[i:], 1, d)
	}
	requireClose(t, wdx, dx, 1e-12)
	requireClose(t, wdg, dg, 1e-10)

	mean := make([]float64, rows)
	LayerNorm(y, mean, rstd, x, g, b, rows, d, 1e-5)
	wy, wm, wr := naiveLayerNorm(x, g, b, rows, d, 1e-5)
	requireClose(t, wy, y, 1e-12)
	requireClose(t, wm, mean, 1e-12)
	requireClose(t, wr, rstd, 1e-12)
	dx, dg, db := make([]float64, rows*d), make([]float64, d), make([]float64, d)
	LayerNormBackward(dx, dg, db, dy, x, g, mean, rstd, rows, d)
	wdx, wdg, wdb := make([]float64, rows*d), make([]float64, d), make([]float64, d)
	for i := range rows {
		LayerNormBackward(wdx[i*d:], wdg, wdb, dy[i*d:], x[i*d:], g, mean[i:], rstd[i:], 1, d)
	}
	requireClose(t, wdx, dx, 1e-12)
	requireClose(t, wdg, dg, 1e-10)
	requireClose(t, wdb, db, 1e-10)
}

func TestParallelSoftmaxCrossEntropy(t *testing.T) {
	r := newRand(22)
	const rows, vocab = 700, 97
	logits := randSlice[float64](r, rows*vocab)
	targets := make([]int32, rows)
	for i := range targets {
		targets[i] = int32(r.IntN(vocab+20)) - 20 // some ignored
	}
	y := make([]float64, rows*vocab)
	Softmax(y, logits, rows, vocab)
	for i := range rows {
		requireClose(t, naiveSoftmax(logits[i*vocab:(i+1)*vocab]), y[i*vocab:(i+1)*vocab], 1e-12)
	}
	lse := make([]float64, rows)
	loss := CrossEntropy(lse, logits, targets, rows, vocab)
	var want float64
	count := 0
	for i := range rows {
		if targets[i] >= 0 {
			want -= math.Log(y[i*vocab+int(targets[i])])
			count++
		}
	}
	require.InDelta(t, want/float64(count), loss, 1e-12)
	d := make([]float64, rows*vocab)
	CrossEntropyBackward(d, logits, lse, targets, rows, vocab, 2)
	for i := range rows {
		for j := range vocab {
			w := 0.0
			if targets[i] >= 0 {
				w = y[i*vocab+j]
				if int32(j) == targets[i] {
					w--
				}
				w *= 2 / float64(count)
			}
			require.InDelta(t, w, d[i*vocab+j], 1e-14)
		}
	}
}

// TestDeterministicAcrossProcs checks that reductions do not depend on the
// number of cores.
func TestDeterministicAcrossProcs(t *testing.T) {
	r := newRand(23)
	const rows, d = 3000, 40
	x, g, dy := randSlice[float32](r, rows*d), randSlice[float32](r, d), randSlice[float32](r, rows*d)
	targets := make([]int32, rows)
	run := func() (float64, []float32) {
		y, rstd := make([]float32, rows*d), make([]float32, rows)
		RMSNorm(y, rstd, x, g, rows, d, 1e-5)
		dx, dg := make([]float32, rows*d), make([]float32, d)
		RMSNormBackward(dx, dg, dy, x, g, rstd, rows, d)
		lse := make([]float32, rows)
		return CrossEntropy(lse, x, targets, rows, d), dg
	}
	l1, g1 := run()
	old := runtime.GOMAXPROCS(1)
	l2, g2 := run()
	runtime.GOMAXPROCS(max(old, 3))
	l3, g3 := run()
	runtime.GOMAXPROCS(old)
	require.Equal(t, l1, l2)
	require.Equal(t, l1, l3)
	require.Equal(t, g1, g2)
	require.Equal(t, g1, g3)
}

func TestKernelAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	r := newRand(24)
	const rows, d, vocab = 512, 128, 256
	x, g, b := randSlice[float32](r, rows*2*d), randSlice[float32](r, d), randSlice[float32](r, d)
	y, dx := make([]float32, rows*2*d), make([]float32, rows*2*d)
	rstd, mean := make([]float32, rows), make([]float32, rows)
	dg, db := make([]float32, d), make([]float32, d)
	logits, dl := randSlice[float32](r, rows*vocab), make([]float32, rows*vocab)
	lse := make([]float32, rows)
	targets := make([]int32, rows)
	step := func() {
		Activate(ActGELU, y, x)
		ActivateBackward(ActGELU, dx, y, x)
		GLU(ActSiLU, y, x, rows, d)
		GLUBackward(ActSiLU, dx, y, x, rows, d)
		RMSNorm(y, rstd, x, g, rows, d, 1e-6)
		RMSNormBackward(dx, dg, y, x, g, rstd, rows, d)
		LayerNorm(y, mean, rstd, x, g, b, rows, d, 1e-6)
		LayerNormBackward(dx, dg, db, y, x, g, mean, rstd, rows, d)
		Softmax(dl, logits, rows, vocab)
		CrossEntropy(lse, logits, targets, rows, vocab)
		CrossEntropyBackward(dl, logits, lse, targets, rows, vocab, 1)
	}
	step()
	require.Zero(t, testing.AllocsPerRun(5, step))
}

// TestNoAllocsAfterGC: the kernels' pools of tasks and scratch survive a
// garbage collection, so a training loop that makes garbage elsewhere
// still runs its kernels without allocating.
func TestNoAllocsAfterGC(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	r := newRand(25)
	const m, n, k = 256, 256, 256
	a, b, c := randSlice[float32](r, m*k), randSlice[float32](r, k*n), make([]float32, m*n)
	a64, b64, c64 := randSlice[float64](r, m*k), randSlice[float64](r, k*n), make([]float64, m*n)
	x, y := randSlice[float32](r, m*k), make([]float32, m*k)
	ones := make([]float32, k)
	for i := range ones {
		ones[i] = 1
	}
	rstd := make([]float32, m)
	const batch, seq, heads, hd = 2, 64, 2, 16
	qkv := randSlice[float32](r, batch*seq*3*heads*hd)
	att, lse := make([]float32, batch*seq*heads*hd), make([]float32, batch*heads*seq)
	datt, dqkv := randSlice[float32](r, len(att)), make([]float32, len(qkv))
	var sum atomic.Int64
	task := sumTask{&sum}
	step := func() {
		Gemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
		Gemm(true, true, m, n, k, 1, a64, m, b64, k, 0, c64, n)
		Activate(ActGELU, y, x)
		GemmAct(ActGELU, false, false, m, n, k, 1, a, k, b, n, 0, c, n, y, n)
		GemmAct(ActSiLU, true, true, m, n, k, 1, a64, m, b64, k, 1, c64, n, c64, n)
		RMSNorm(y, rstd, x, ones, m, k, 1e-6)
		Attention(att, lse, qkv, batch, seq, heads, hd, true)
		AttentionBackward(dqkv, datt, qkv, att, lse, batch, seq, heads, hd, true)
		GemmStreamB(false, false, 32, n, k, 1, a, k, b, n, 0, c, n)
		GemmStreamB(false, true, 32, n, k, 1, a, k, b, k, 0, c, n)
		Parallel(8, task)
	}
	step()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 3 {
		runtime.GC()
		runtime.GC() // a second collection empties sync.Pools' victim caches
		step()
	}
	runtime.ReadMemStats(&after)
	// The runtime itself may allocate a few small objects after a
	// collection (goroutine parking records); lost scratch would be
	// hundreds of KiB.
	if d := after.TotalAlloc - before.TotalAlloc; d > 64<<10 {
		t.Errorf("%d bytes allocated in 3 kernel rounds after garbage collections, want almost none", d)
	}
}

type sumTask struct{ n *atomic.Int64 }

func (c sumTask) Chunk(i int) { c.n.Add(int64(i)) }

// busyTask spins for d in each chunk.
type busyTask struct {
	d    time.Duration
	runs atomic.Int64
}

func (s *busyTask) runChunks(j *parJob) {
	for _, ok := j.claim(); ok; _, ok = j.claim() {
		s.runs.Add(1)
		for t0 := time.Now(); time.Since(t0) < s.d; {
		}
	}
}

// TestParallelHandshake runs many jobs back to back, with and without
// pauses longer than the helpers' poll, and checks every chunk ran once.
func TestParallelHandshake(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(2, runtime.GOMAXPROCS(0))))
	for _, pause := range []time.Duration{0, 2 * spinWait} {
		for i := range 50 {
			s := &busyTask{d: time.Duration(i%3) * 10 * time.Microsecond}
			runParallel(s, 5)
			require.EqualValues(t, 5, s.runs.Load())
			time.Sleep(pause)
		}
	}
}

// BenchmarkParallelWake times a job of two chunks of d on two threads:
// about d when the helper is at hand, d plus a thread wake-up otherwise.
func BenchmarkParallelWake(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	for _, d := range []time.Duration{0, 20 * time.Microsecond, 200 * time.Microsecond} {
		b.Run(d.String(), func(b *testing.B) {
			t := &busyTask{d: d}
			for b.Loop() {
				runParallel(t, 2)
			}
		})
	}
}
