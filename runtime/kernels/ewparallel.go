package kernels

// Row-parallel execution of the cheaper kernels. Work is cut into chunks
// whose number depends only on the problem size, never on the core count,
// so reductions (losses, norm gains) sum in the same order everywhere.
const (
	ewMaxChunks  = 64
	ewChunkWork  = 1 << 14 // element operations per chunk, at least
	ewSerialWork = 1 << 15 // below this much work everything stays serial
)

// ewTask carries one kernel call; fn gives the operands their meaning.
type ewTask[T real] struct {
	kind     ewKind
	n, chunk int

	act              Act
	a, b, c, d, e, f []T
	g, h             []T
	tok              []int32
	w                int // row width
	s                T   // a scalar: eps or scale

	part    [ewMaxChunks]float64
	cnt     [ewMaxChunks]int
	scratch []T // per-chunk partial sums
}

var (
	ewTasks32 = freePool{New: func() any { return new(ewTask[float32]) }}
	ewTasks64 = freePool{New: func() any { return new(ewTask[float64]) }}
)

func getEW[T real]() *ewTask[T] {
	return pick[T](&ewTasks32, &ewTasks64).Get().(*ewTask[T])
}

// putEW clears t's references and returns it to its pool.
func putEW[T real](t *ewTask[T]) {
	scratch := t.scratch
	*t = ewTask[T]{scratch: scratch}
	pick[T](&ewTasks32, &ewTasks64).Put(t)
}

func (t *ewTask[T]) runChunks(j *parJob) {
	for i, ok := j.claim(); ok; i, ok = j.claim() {
		lo := i * t.chunk
		t.exec(i, lo, min(lo+t.chunk, t.n))
	}
}

// ewChunks returns the chunk size and count for n units costing unitCost
// element operations each.
func ewChunks(n, unitCost int) (chunk, chunks int) {
	if n == 0 {
		return 1, 0
	}
	chunk = max(1, ceilDiv(ewChunkWork, max(unitCost, 1)))
	if ceilDiv(n, chunk) > ewMaxChunks {
		chunk = ceilDiv(n, ewMaxChunks)
	}
	return chunk, ceilDiv(n, chunk)
}

// run splits n units into chunks, runs t.fn over them (in parallel when
// there is enough work) and returns the number of chunks.
func (t *ewTask[T]) run(n, unitCost int) int {
	t.n = n
	var chunks int
	t.chunk, chunks = ewChunks(n, unitCost)
	if chunks <= 1 || n*unitCost < ewSerialWork {
		for c := range chunks {
			lo := c * t.chunk
			t.exec(c, lo, min(lo+t.chunk, n))
		}
		return chunks
	}
	runParallel(t, chunks)
	return chunks
}

// partials returns zeroed per-chunk scratch of chunks×width values.
func (t *ewTask[T]) partials(chunks, width int) []T {
	n := chunks * width
	if cap(t.scratch) < n {
		t.scratch = make([]T, n)
	}
	t.scratch = t.scratch[:n]
	clear(t.scratch)
	return t.scratch
}

// sumPartials adds the chunks×len(dst) partial sums in p into dst, in
// chunk order.
func sumPartials[T real](dst, p []T, chunks int) {
	w := len(dst)
	for c := range chunks {
		src := p[c*w : c*w+w]
		for j := range dst {
			dst[j] += src[j]
		}
	}
}
