package kernels

import "math"

// Softmax sets each of rows rows of width n of y to softmax of the same row
// of x (stable: the row maximum is subtracted first). y may alias x.
func Softmax[F Float](y, x []F, rows, n int) {
	checkLen("Softmax", "x", len(x), rows*n)
	checkLen("Softmax", "y", len(y), rows*n)
	if is32[F]() {
		softmax(as32(y), as32(x), rows, n)
	} else {
		softmax(as64(y), as64(x), rows, n)
	}
}

// SoftmaxRow sets y = softmax(x) for one row (y may alias x; x has at
// least y's length) and returns log Σ exp(x) in float64. float32 rows take
// the vector exp (1.5e-7 relative); float64 rows compute with package math.
func SoftmaxRow[F Float](y, x []F) float64 {
	checkLen("SoftmaxRow", "x", len(x), len(y))
	x = x[:len(y)]
	if is32[F]() {
		xr, yr := as32(x), as32(y)
		m := rowMax(xr)
		s := vexpSubSum32(yr, xr, m)
		vscale32(yr, float32(1/s))
		return float64(m) + math.Log(s)
	}
	m := float64(rowMax(x))
	var s float64
	ys := as64(y)
	for i, v := range as64(x) {
		ys[i] = math.Exp(v - m)
		s += ys[i]
	}
	for i := range ys {
		ys[i] /= s
	}
	return m + math.Log(s)
}

// CrossEntropy stores lse[r] = log Σ_j exp(logits[r,j]) for every row and
// returns the mean over rows with targets[r] >= 0 of lse[r] -
// logits[r, targets[r]]. Rows with a negative target are ignored (their lse
// is still written); with no counted rows the result is 0.
func CrossEntropy[F Float](lse []F, logits []F, targets []int32, rows, vocab int) float64 {
	checkLen("CrossEntropy", "logits", len(logits), rows*vocab)
	checkLen("CrossEntropy", "lse", len(lse), rows)
	checkLen("CrossEntropy", "targets", len(targets), rows)
	for _, t := range targets[:rows] {
		if t >= 0 {
			checkToken("CrossEntropy", t, vocab, 1)
		}
	}
	if is32[F]() {
		return crossEntropy(as32(lse), as32(logits), targets, rows, vocab)
	}
	return crossEntropy(as64(lse), as64(logits), targets, rows, vocab)
}

// CrossEntropyBackward accumulates, for every row with targets[r] >= 0,
//
//	dlogits[r,:] += scale * (softmax(logits[r,:]) - onehot(targets[r])) / count
//
// where count is the number of such rows and softmax comes from lse.
func CrossEntropyBackward[F Float](dlogits, logits, lse []F, targets []int32, rows, vocab int, scale F) {
	checkLen("CrossEntropyBackward", "logits", len(logits), rows*vocab)
	checkLen("CrossEntropyBackward", "dlogits", len(dlogits), rows*vocab)
	checkLen("CrossEntropyBackward", "lse", len(lse), rows)
	checkLen("CrossEntropyBackward", "targets", len(targets), rows)
	count := 0
	for _, t := range targets[:rows] {
		if t >= 0 {
			checkToken("CrossEntropyBackward", t, vocab, 1)
			count++
		}
	}
	if count == 0 {
		return
	}
	if is32[F]() {
		crossEntropyBackward(as32(dlogits), as32(logits), as32(lse), targets, rows, vocab, float32(float64(scale)/float64(count)))
	} else {
		crossEntropyBackward(as64(dlogits), as64(logits), as64(lse), targets, rows, vocab, float64(scale)/float64(count))
	}
}

// rowMax returns the maximum of x (-Inf when empty, NaN if any is NaN).
func rowMax[F Float](x []F) F {
	if is32[F]() {
		return F(vmax32(as32(x)))
	}
	m := F(math.Inf(-1))
	for _, v := range x {
		m = max(m, v)
	}
	return m
}

// logSumExp returns log Σ exp(x), computed stably in float64 (float32
// rows take their exponentials from the vector exp).
func logSumExp[F Float](x []F) float64 {
	if is32[F]() {
		return logSumExp32(as32(x))
	}
	m := float64(rowMax(x))
	if math.IsInf(m, 0) {
		return m
	}
	var s float64
	for _, v := range x {
		s += expOf[F](float64(v) - m)
	}
	return m + math.Log(s)
}

// Operands in ewTask: a=y/dlogits b=x/logits c=lse, tok=targets.

func softmax[T real](y, x []T, rows, n int) {
	t := getEW[T]()
	t.a, t.b, t.w = y, x, n
	t.kind = ewSoftmaxChunk
	t.run(rows, 8*n)
	putEW(t)
}

func crossEntropy[T real](lse, logits []T, targets []int32, rows, vocab int) float64 {
	t := getEW[T]()
	t.b, t.c, t.tok, t.w = logits, lse, targets, vocab
	t.kind = ewCrossEntropyChunk
	chunks := t.run(rows, 8*vocab)
	var loss float64
	count := 0
	for c := range chunks {
		loss += t.part[c]
		count += t.cnt[c]
	}
	putEW(t)
	if count == 0 {
		return 0
	}
	return loss / float64(count)
}

func crossEntropyBackward[T real](dlogits, logits, lse []T, targets []int32, rows, vocab int, scale T) {
	t := getEW[T]()
	t.a, t.b, t.c, t.tok, t.w, t.s = dlogits, logits, lse, targets, vocab, scale
	t.kind = ewCrossEntropyBackwardChunk
	t.run(rows, 8*vocab)
	putEW(t)
}

func logSumExp32(x []float32) float64 {
	m := rowMax(x)
	if math.IsInf(float64(m), 0) {
		return float64(m)
	}
	return float64(m) + math.Log(vexpSum32(x, m))
}
