package sample

import (
	"math"
	"slices"

	"github.com/bfcdev/bfc/runtime/kernels"
	"github.com/bfcdev/bfc/runtime/tensor"
)

// Float is the element type of logits.
type Float = kernels.Float

// Sample returns a token index drawn from softmax(logits/temperature).
// Temperature <= 0 means greedy: the index of the largest logit, the lowest
// such index on ties. With 0 < topP < 1 only the most probable tokens whose
// probabilities first sum to at least topP are kept (nucleus sampling).
// NaN logits are never chosen. It panics on empty logits.
func Sample[F Float](logits []F, temperature, topP float64, r *tensor.RNG) int {
	if len(logits) == 0 {
		panic("sample.Sample: no logits")
	}
	best := argmax(logits)
	if temperature <= 0 {
		return best
	}
	m := float64(logits[best])
	p := make([]float64, len(logits))
	var sum float64
	for i, l := range logits {
		v := float64(l)
		if math.IsNaN(v) {
			continue
		}
		p[i] = math.Exp((v - m) / temperature)
		sum += p[i]
	}
	if !(topP > 0 && topP < 1) {
		return draw(p, nil, sum, r)
	}
	order := make([]int, len(p))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case p[a] > p[b]:
			return -1
		case p[a] < p[b]:
			return 1
		}
		return 0
	})
	var cum float64
	keep := len(order)
	for k, i := range order {
		cum += p[i]
		if cum >= topP*sum {
			keep = k + 1
			break
		}
	}
	return draw(p, order[:keep], cum, r)
}

// draw samples index i with probability p[i]/total, over order (or all
// indices when order is nil).
func draw(p []float64, order []int, total float64, r *tensor.RNG) int {
	u := r.Float64() * total
	last := -1
	visit := func(i int) bool {
		if p[i] == 0 {
			return false
		}
		last = i
		u -= p[i]
		return u < 0
	}
	if order == nil {
		for i := range p {
			if visit(i) {
				return i
			}
		}
	} else {
		for _, i := range order {
			if visit(i) {
				return i
			}
		}
	}
	return last // rounding left u just above zero
}

// argmax returns the index of the largest non-NaN value (lowest on ties;
// 0 when all are NaN).
func argmax[F Float](x []F) int {
	best := -1
	for i, v := range x {
		if v != v {
			continue
		}
		if best < 0 || v > x[best] {
			best = i
		}
	}
	return max(best, 0)
}
