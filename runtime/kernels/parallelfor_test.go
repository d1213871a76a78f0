package kernels

import (
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

type countTask struct {
	hits  []atomic.Int32
	inner bool
	a, b  []float64
}

func (c *countTask) Chunk(i int) {
	c.hits[i].Add(1)
	if c.inner {
		// a nested parallel kernel must not deadlock
		Gemm(false, false, 64, 64, 64, 1, c.a, 64, c.b, 64, 0, make([]float64, 64*64), 64)
	}
}

func TestParallelRunsEveryChunkOnce(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 100} {
		for _, inner := range []bool{false, true} {
			c := &countTask{hits: make([]atomic.Int32, n), inner: inner, a: make([]float64, 64*64), b: make([]float64, 64*64)}
			Parallel(n, c)
			for i := range n {
				require.EqualValues(t, 1, c.hits[i].Load(), "n=%d chunk %d", n, i)
			}
		}
	}
}

func TestParallelNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	c := &countTask{hits: make([]atomic.Int32, 16)}
	Parallel(16, c)
	require.Zero(t, testing.AllocsPerRun(20, func() { Parallel(16, c) }))
}
