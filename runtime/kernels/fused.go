package kernels

import "math"

// AddRMSNorm is [Add] followed by [RMSNorm] of the sum, in one pass over
// each row: h = x1 + x2, y = h / sqrt(mean(h²) + eps) · g, rstd = the
// reciprocal root per row. h, x1 and x2 are rows×d; h may alias x1 or x2;
// y must not overlap h. The results are those of Add then RMSNorm.
func AddRMSNorm[F Float](h, y, rstd, x1, x2, g []F, rows, d int, eps F) {
	checkLen("AddRMSNorm", "h", len(h), rows*d)
	checkLen("AddRMSNorm", "y", len(y), rows*d)
	checkLen("AddRMSNorm", "g", len(g), d)
	checkLen("AddRMSNorm", "rstd", len(rstd), rows)
	checkLen("AddRMSNorm", "x1", len(x1), rows*d)
	checkLen("AddRMSNorm", "x2", len(x2), rows*d)
	if is32[F]() {
		addRMSNorm(as32(h), as32(y), as32(rstd), as32(x1), as32(x2), as32(g), rows, d, float32(eps))
	} else {
		addRMSNorm(as64(h), as64(y), as64(rstd), as64(x1), as64(x2), as64(g), rows, d, float64(eps))
	}
}

// addRMSNormJob is one AddRMSNorm call, cut into row chunks.
type addRMSNormJob[T real] struct {
	h, y, rstd, x1, x2, g []T
	d, rows, chunk        int
	eps                   T
}

var (
	addRMSNormJobs32 = freePool{New: func() any { return new(addRMSNormJob[float32]) }}
	addRMSNormJobs64 = freePool{New: func() any { return new(addRMSNormJob[float64]) }}
)

func addRMSNorm[T real](h, y, rstd, x1, x2, g []T, rows, d int, eps T) {
	chunk, chunks := ewChunks(rows, 4*d)
	pool := pick[T](&addRMSNormJobs32, &addRMSNormJobs64)
	j := pool.Get().(*addRMSNormJob[T])
	*j = addRMSNormJob[T]{h: h, y: y, rstd: rstd, x1: x1, x2: x2, g: g, d: d, rows: rows, chunk: chunk, eps: eps}
	if chunks <= 1 || rows*d*4 < ewSerialWork {
		for c := range chunks {
			j.rowsFrom(c)
		}
	} else {
		runParallel(j, chunks)
	}
	*j = addRMSNormJob[T]{}
	pool.Put(j)
}

func (j *addRMSNormJob[T]) runChunks(p *parJob) {
	for c, ok := p.claim(); ok; c, ok = p.claim() {
		j.rowsFrom(c)
	}
}

// rowsFrom does chunk c: each row's sum, then, while the row is in
// cache, its norm, with the arithmetic of RMSNorm.
func (j *addRMSNormJob[T]) rowsFrom(c int) {
	d := j.d
	g := j.g[:d]
	for r := c * j.chunk; r < min((c+1)*j.chunk, j.rows); r++ {
		h := j.h[r*d : r*d+d]
		a, b := j.x1[r*d:r*d+d], j.x2[r*d:r*d+d]
		y := j.y[r*d : r*d+d]
		if is32[T]() {
			h32 := as32(h)
			vecUse.add(h32, as32(a), as32(b))
			rs := 1 / math.Sqrt(vecUse.sumSq(h32, 0)/float64(d)+float64(j.eps))
			j.rstd[r] = T(rs)
			vecUse.rmsNorm(as32(y), h32, as32(g), float32(rs))
			continue
		}
		for i := range h {
			h[i] = a[i] + b[i]
		}
		rs := 1 / math.Sqrt(SumSquares(h)/float64(d)+float64(j.eps))
		j.rstd[r] = T(rs)
		s := T(rs)
		for i, v := range h {
			y[i] = v * s * g[i]
		}
	}
}
