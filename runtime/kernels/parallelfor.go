package kernels

import "runtime"

// ParallelTask is work split into numbered chunks for [Parallel].
type ParallelTask interface {
	// Chunk does chunk i. Chunks run concurrently and in any order.
	Chunk(i int)
}

type forTask struct{ t ParallelTask }

func (f *forTask) runChunks(j *parJob) {
	for i, ok := j.claim(); ok; i, ok = j.claim() {
		f.t.Chunk(i)
	}
}

var forTasks = freePool{New: func() any { return new(forTask) }}

// Parallel calls t.Chunk(i) for every i in [0, n) on the caller and the
// kernels' idle pool workers, and returns when all are done. It shares the
// pool with the kernels themselves, so kernels called from inside a chunk
// (a Gemm per expert, say) use only workers that are idle and never
// oversubscribe the cores. Chunks are claimed in index order. With a
// pointer t it does not allocate in steady state.
func Parallel(n int, t ParallelTask) {
	if n <= 0 {
		return
	}
	if n == 1 || runtime.GOMAXPROCS(0) == 1 {
		for i := range n {
			t.Chunk(i)
		}
		return
	}
	f := forTasks.Get().(*forTask)
	f.t = t
	runParallel(f, n)
	f.t = nil
	forTasks.Put(f)
}
