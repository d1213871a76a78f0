package kernels

import "math"

// Softmax sets each of rows rows of width n of y to softmax of the same row
// of x (stable: the row maximum is subtracted first). y may alias x.
func Softmax[F Float](y, x []F, rows, n int) {
	checkLen("Softmax", "x", len(x), rows*n)
	checkLen("Softmax", "y", len(y), rows*n)
	for r := range rows {
		xr, yr := x[r*n:r*n+n], y[r*n:r*n+n]
		m := rowMax(xr)
		var s float64
		for j, v := range xr {
			e := math.Exp(float64(v - m))
			s += e
			yr[j] = F(e)
		}
		inv := F(1 / s)
		for j := range yr {
			yr[j] *= inv
		}
	}
}

// rowMax returns the maximum of x (-Inf when empty).
func rowMax[F Float](x []F) F {
	m := F(math.Inf(-1))
	for _, v := range x {
		m = max(m, v)
	}
	return m
}

// logSumExp returns log Σ exp(x), computed stably in float64.
func logSumExp[F Float](x []F) float64 {
	m := float64(rowMax(x))
	if math.IsInf(m, 0) {
		return m
	}
	var s float64
	for _, v := range x {
		s += math.Exp(float64(v) - m)
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
	var loss float64
	count := 0
	for r := range rows {
		lr := logits[r*vocab : r*vocab+vocab]
		l := logSumExp(lr)
		lse[r] = F(l)
		if t := targets[r]; t >= 0 {
			checkToken("CrossEntropy", t, vocab, 1)
			loss += l - float64(lr[t])
			count++
		}
	}
	if count == 0 {
		return 0
	}
	return loss / float64(count)
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
			count++
		}
	}
	if count == 0 {
		return
	}
	s := float64(scale) / float64(count)
	for r := range rows {
		t := targets[r]
		if t < 0 {
			continue
		}
		checkToken("CrossEntropyBackward", t, vocab, 1)
		lr, dr := logits[r*vocab:r*vocab+vocab], dlogits[r*vocab:r*vocab+vocab]
		l := float64(lse[r])
		for j, v := range lr {
			dr[j] += F(s * math.Exp(float64(v)-l))
		}
		dr[t] -= F(s)
	}
}
