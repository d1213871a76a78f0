// Package routecheck recomputes, independently of runtime/moe, the router
// probabilities of a moe layer and how far its routing decisions are from
// flipping. Finite-difference gradient checks need it: routing is
// piecewise constant, so a central difference means something only when no
// decision changes between x-ε and x+ε, which holds when every gap between
// two router probabilities whose order decides the routing is much larger
// than the change a step of ε can cause.
package routecheck

import (
	"math"
	"sort"

	"github.com/bfcdev/bfc/compiler/eval"
	"github.com/bfcdev/bfc/compiler/ir"
)

// Probs returns the router probabilities softmax(x·wg) over the experts of
// each token, in float64: x is [t,d], wg [d,e], the result [t,e].
func Probs[F float32 | float64](x, wg []F, t, d, e int) []float64 {
	p := make([]float64, t*e)
	for i := range t {
		row := p[i*e : (i+1)*e]
		for j := range d {
			xv := float64(x[i*d+j])
			for k := range e {
				row[k] += xv * float64(wg[j*e+k])
			}
		}
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, v)
		}
		var s float64
		for k, v := range row {
			row[k] = math.Exp(v - mx)
			s += row[k]
		}
		for k := range row {
			row[k] /= s
		}
	}
	return p
}

// Groups returns the routing groups of a run of batch sequences of seq
// tokens: lists of token indices (t = b·seq + s) in group order.
func Groups(group string, batch, seq int) [][]int {
	var gs [][]int
	switch group {
	case "sequence":
		for b := range batch {
			g := make([]int, seq)
			for s := range seq {
				g[s] = b*seq + s
			}
			gs = append(gs, g)
		}
	case "position":
		for s := range seq {
			g := make([]int, batch)
			for b := range batch {
				g[b] = b*seq + s
			}
			gs = append(gs, g)
		}
	default: // batch
		g := make([]int, batch*seq)
		for t := range g {
			g[t] = t
		}
		gs = append(gs, g)
	}
	return gs
}

// Margin returns the smallest gap between two router probabilities whose
// order decides the routing of a layer with attributes a, given its
// probabilities probs [batch·seq, E]:
//
//   - expert choice: in each group of n tokens every expert takes its
//     k = floor(n·c/E) most probable tokens, so the gap between the k-th
//     and (k+1)-th largest probability of the expert in the group (none
//     when k >= n);
//   - top_k: each token's ranking of its K best experts decides its
//     choices, their placement priority and (rank 1) the balance loss's
//     counts, so the gaps between consecutive probabilities among its K+1
//     largest.
//
// It returns +Inf when no decision depends on an order.
func Margin(a *ir.MoEAttrs, probs []float64, batch, seq int) float64 {
	e := a.Experts
	m := math.Inf(1)
	if a.Rule == ir.RuleTopK {
		row := make([]float64, e)
		for t := range batch * seq {
			copy(row, probs[t*e:(t+1)*e])
			sort.Sort(sort.Reverse(sort.Float64Slice(row)))
			for r := 0; r < a.K && r+1 < e; r++ {
				m = math.Min(m, row[r]-row[r+1])
			}
		}
		return m
	}
	for _, g := range Groups(a.Group, batch, seq) {
		n := len(g)
		k := int(math.Floor(float64(n)*a.Capacity/float64(e) + 1e-9))
		if k < 1 || k >= n {
			continue
		}
		col := make([]float64, n)
		for x := range e {
			for i, t := range g {
				col[i] = probs[t*e+x]
			}
			sort.Sort(sort.Reverse(sort.Float64Slice(col)))
			m = math.Min(m, col[k-1]-col[k])
		}
	}
	return m
}

// ModelMargin is the smallest Margin over the moe layers of the program m
// runs, from the router inputs and routers its last forward run left.
func ModelMargin[F float32 | float64](m *eval.Machine[F], batch, seq int) float64 {
	mg := math.Inf(1)
	for _, in := range m.Program().MoE() {
		x, wg := in.Args[0], in.Args[1]
		a := in.Attrs.MoE
		probs := Probs(m.Get(x), m.Get(wg), batch*seq, x.Cols, a.Experts)
		mg = math.Min(mg, Margin(a, probs, batch, seq))
	}
	return mg
}
