package moe

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/bfcdev/bfc/runtime/kernels"
	"github.com/stretchr/testify/require"
)

// A naive float64 reference of the whole layer, written from the
// specification with plain loops and sorts and sharing no code with the
// package: router, softmax over experts, group membership, selection,
// placement, experts, combine and the auxiliary losses.

type refAssign struct {
	expert int
	gate   float64
}

type refResult struct {
	y       []float64
	aux     float64
	probs   [][]float64
	assign  [][]refAssign // per token, in expert order
	load    []int
	dropped int
}

func refAct(a kernels.Act, v float64) float64 {
	switch a {
	case kernels.ActReLU:
		return math.Max(v, 0)
	case kernels.ActSqReLU:
		r := math.Max(v, 0)
		return r * r
	case kernels.ActGELU:
		return 0.5 * v * (1 + math.Erf(v/math.Sqrt2))
	case kernels.ActGELUTanh:
		return 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v)))
	case kernels.ActSiLU:
		return v / (1 + math.Exp(-v))
	}
	panic("unknown act")
}

// refGroups lists the token indices of each routing group in member order.
func refGroups(g Group, batch, seq int) [][]int {
	var out [][]int
	switch g {
	case GroupBatch:
		var all []int
		for t := range batch * seq {
			all = append(all, t)
		}
		out = append(out, all)
	case GroupSequence:
		for b := range batch {
			var m []int
			for s := range seq {
				m = append(m, b*seq+s)
			}
			out = append(out, m)
		}
	case GroupPosition:
		for s := range seq {
			var m []int
			for b := range batch {
				m = append(m, b*seq+s)
			}
			out = append(out, m)
		}
	}
	return out
}

func refForward(c Config, x, wg, w1, w2 []float64, batch, seq int) refResult {
	T, E, D, H := batch*seq, c.Experts, c.D, c.Hidden
	H1 := H
	if c.Gated {
		H1 = 2 * H
	}
	res := refResult{y: make([]float64, T*D), load: make([]int, E), assign: make([][]refAssign, T)}
	lse := make([]float64, T)
	for t := range T {
		logit := make([]float64, E)
		for e := range E {
			for d := range D {
				logit[e] += x[t*D+d] * wg[d*E+e]
			}
		}
		m := math.Inf(-1)
		for _, v := range logit {
			m = math.Max(m, v)
		}
		var s float64
		for _, v := range logit {
			s += math.Exp(v - m)
		}
		lse[t] = m + math.Log(s)
		p := make([]float64, E)
		for e := range E {
			p[e] = math.Exp(logit[e]-m) / s
		}
		res.probs = append(res.probs, p)
	}
	add := func(t, e int, gate float64) {
		res.assign[t] = append(res.assign[t], refAssign{e, gate})
		res.load[e]++
	}
	first := make([]int, T)
	for _, mem := range refGroups(c.Group, batch, seq) {
		n := len(mem)
		if c.Rule == ExpertChoice {
			k := int(math.Floor(float64(n) * c.Capacity / float64(E)))
			for e := range E {
				if c.Causal {
					// Member i is taken when fewer than floor((i+1)·c/E)
					// earlier members have a probability at least its own.
					for i, t := range mem {
						above := 0
						for _, u := range mem[:i] {
							if res.probs[u][e] >= res.probs[t][e] {
								above++
							}
						}
						if above < int(math.Floor(float64(i+1)*c.Capacity/float64(E)+1e-9)) {
							add(t, e, res.probs[t][e])
						}
					}
					continue
				}
				idx := append([]int(nil), mem...)
				sort.SliceStable(idx, func(i, j int) bool { return res.probs[idx[i]][e] > res.probs[idx[j]][e] })
				for _, t := range idx[:k] {
					add(t, e, res.probs[t][e])
				}
			}
			if c.Fill {
				for _, t := range mem {
					if len(res.assign[t]) > 0 {
						continue
					}
					best := 0
					for e := 1; e < E; e++ {
						if res.probs[t][e] > res.probs[t][best] {
							best = e
						}
					}
					add(t, best, res.probs[t][best])
				}
			}
			continue
		}
		K := c.K
		C := int(math.Ceil(float64(K*n) * c.Capacity / float64(E)))
		choice := map[int][]int{}
		for _, t := range mem {
			ord := make([]int, E)
			for e := range ord {
				ord[e] = e
			}
			sort.SliceStable(ord, func(i, j int) bool { return res.probs[t][ord[i]] > res.probs[t][ord[j]] })
			choice[t] = ord[:K]
			first[t] = ord[0]
		}
		used := make([]int, E)
		for r := range K {
			for _, t := range mem {
				e := choice[t][r]
				if used[e] >= C {
					res.dropped++
					continue
				}
				used[e]++
				gate := res.probs[t][e]
				if K > 1 {
					var s float64
					for _, ee := range choice[t] {
						s += res.probs[t][ee]
					}
					gate /= s
				}
				add(t, e, gate)
			}
		}
	}
	// In bf16 precision the expert products see their operands rounded
	// to bfloat16: x, W1, the activations and W2.
	rb := func(v float64) float64 { return v }
	if c.BF16 {
		rb = func(v float64) float64 { return float64(kernels.RoundBF16(float32(v))) }
	}
	for t := range T {
		sort.Slice(res.assign[t], func(i, j int) bool { return res.assign[t][i].expert < res.assign[t][j].expert })
		for _, a := range res.assign[t] {
			e := a.expert
			h := make([]float64, H1)
			for j := range H1 {
				for d := range D {
					h[j] += rb(x[t*D+d]) * rb(w1[(e*D+d)*H1+j])
				}
			}
			act := make([]float64, H)
			for j := range H {
				if c.Gated {
					act[j] = refAct(c.Act, h[j]) * h[H+j]
				} else {
					act[j] = refAct(c.Act, h[j])
				}
			}
			for d := range D {
				var o float64
				for j := range H {
					o += rb(act[j]) * rb(w2[(e*H+j)*D+d])
				}
				res.y[t*D+d] += a.gate * o
			}
		}
	}
	if c.Rule == TopK && c.AuxWeight != 0 {
		var bal float64
		for e := range E {
			var f, p float64
			for t := range T {
				if first[t] == e {
					f++
				}
				p += res.probs[t][e]
			}
			bal += f / float64(T) * p / float64(T)
		}
		res.aux += c.AuxWeight * float64(E) * bal
	}
	if c.ZWeight != 0 {
		var z float64
		for _, v := range lse {
			z += v * v
		}
		res.aux += c.ZWeight * z / float64(T)
	}
	return res
}

// assignments reads the routing of the last Forward from the workspace:
// per token its (expert, gate) pairs in expert order.
func (ws *Workspace[F]) assignments() [][]refAssign {
	out := make([][]refAssign, ws.t)
	for t := range ws.t {
		for _, s := range ws.tokSlot[ws.tokPtr[t]:ws.tokPtr[t+1]] {
			out[t] = append(out[t], refAssign{int(ws.slotExp[s]), float64(ws.slotGate[s])})
		}
	}
	return out
}

// params holds one layer's inputs in float64.
type params struct {
	x, wg, w1, w2 []float64
}

func randVec(r *rand.Rand, n int, scale float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = scale * r.NormFloat64()
	}
	return v
}

func newParams(r *rand.Rand, c Config, batch, seq int) params {
	T := batch * seq
	return params{
		x:  randVec(r, T*c.D, 1),
		wg: randVec(r, c.D*c.Experts, 1/math.Sqrt(float64(c.D))),
		w1: randVec(r, c.Experts*c.D*c.H1(), 1/math.Sqrt(float64(c.D))),
		w2: randVec(r, c.Experts*c.Hidden*c.D, 1/math.Sqrt(float64(c.Hidden))),
	}
}

func conv[F kernels.Float](v []float64) []F {
	o := make([]F, len(v))
	for i, x := range v {
		o[i] = F(x)
	}
	return o
}

func forwardAs[F kernels.Float](t testing.TB, c Config, p params, batch, seq int) (*Workspace[F], []float64, float64) {
	t.Helper()
	ws := NewWorkspace[F](c)
	y := make([]F, batch*seq*c.D)
	aux, err := Forward(ws, y, conv[F](p.x), conv[F](p.wg), conv[F](p.w1), conv[F](p.w2), batch, seq)
	require.NoError(t, err)
	out := make([]float64, len(y))
	for i, v := range y {
		out[i] = float64(v)
	}
	return ws, out, aux
}

func requireClose(t testing.TB, want, got []float64, tol float64, msg string) {
	t.Helper()
	require.Equal(t, len(want), len(got), msg)
	for i := range want {
		if d := math.Abs(want[i] - got[i]); !(d <= tol*(1+math.Abs(want[i]))) {
			require.Failf(t, "mismatch", "%s: index %d: got %.12g want %.12g (tol %g)", msg, i, got[i], want[i], tol)
		}
	}
}

func requireAssign(t testing.TB, want, got [][]refAssign, tol float64, msg string) {
	t.Helper()
	require.Equal(t, len(want), len(got), msg)
	for i := range want {
		require.Equal(t, len(want[i]), len(got[i]), "%s: token %d: want %v got %v", msg, i, want[i], got[i])
		for j := range want[i] {
			require.Equal(t, want[i][j].expert, got[i][j].expert, "%s: token %d: want %v got %v", msg, i, want[i], got[i])
			require.InDelta(t, want[i][j].gate, got[i][j].gate, tol, "%s: token %d gate", msg, i)
		}
	}
}

// relErr is the relative error norm ‖got − want‖₂ / ‖want‖₂.
func relErr(want, got []float64) float64 {
	var d, n float64
	for i := range want {
		d += (want[i] - got[i]) * (want[i] - got[i])
		n += want[i] * want[i]
	}
	return math.Sqrt(d / n)
}
