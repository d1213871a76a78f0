package moe

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/bfcdev/bfc/runtime/kernels"
	"github.com/stretchr/testify/require"
)

// naiveSelect returns expert ex's k tokens of group g: a stable sort of
// the members by decreasing probability (NaN last), cut at k, sorted by
// token.
func naiveSelect(probs []float64, e, ex int, members []int, k int) []int {
	idx := append([]int(nil), members...)
	val := func(t int) float64 {
		if v := probs[t*e+ex]; !math.IsNaN(v) {
			return v
		}
		return math.Inf(-1)
	}
	sort.SliceStable(idx, func(i, j int) bool {
		a, b := val(idx[i]), val(idx[j])
		if a == b {
			return math.IsNaN(probs[idx[j]*e+ex]) && !math.IsNaN(probs[idx[i]*e+ex])
		}
		return a > b
	})
	idx = idx[:k]
	sort.Ints(idx)
	return idx
}

func testSelectTokens[F kernels.Float](t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, group := range []Group{GroupBatch, GroupSequence, GroupPosition} {
		for _, sh := range []struct{ batch, seq, e int }{{1, 1, 1}, {2, 7, 3}, {3, 40, 5}, {4, 150, 8}, {1, selStack + 52, 2}} {
			for _, mode := range []string{"random", "ties", "nan", "equal", "tiny"} {
				c := Config{Experts: sh.e, D: 2, Hidden: 2, Act: kernels.ActReLU, Rule: ExpertChoice, Capacity: float64(sh.e),
					Group: group, MaxBatch: sh.batch, MaxSeq: sh.seq}
				ws := NewWorkspace[F](c)
				ws.batch, ws.seq, ws.t = sh.batch, sh.seq, sh.batch*sh.seq
				ws.groups, ws.n = c.GroupShape(sh.batch, sh.seq)
				p := make([]float64, sh.batch*sh.seq*sh.e)
				for i := range p {
					switch mode {
					case "random":
						p[i] = r.Float64()
					case "ties":
						p[i] = float64(r.IntN(4)) / 4
					case "nan":
						p[i] = float64(r.IntN(3)) / 3
						if r.IntN(4) == 0 {
							p[i] = math.NaN()
						}
					case "equal":
						p[i] = 0.5
					case "tiny": // subnormal float32, zeros and -0
						p[i] = []float64{0, math.Copysign(0, -1), 1e-45, 3e-45, 1e-40, 1e-30}[r.IntN(6)]
					}
					ws.probs[i] = F(p[i])
					p[i] = float64(ws.probs[i])
				}
				for _, k := range []int{1, 2, ws.n / 3, ws.n - 1, ws.n} {
					if k < 1 || k > ws.n {
						continue
					}
					ws.capac = k
					for ex := range sh.e + 1 {
						ws.expOff[ex] = int32(ex * ws.groups * k)
					}
					for g := range ws.groups {
						members := make([]int, ws.n)
						for i := range members {
							members[i] = ws.member(g, i)
						}
						for ex := range sh.e {
							ws.selectTokens(g, ex)
							want := naiveSelect(p, sh.e, ex, members, k)
							off := int(ws.expOff[ex]) + g*k
							name := fmt.Sprintf("%v %+v %s k=%d g=%d ex=%d", group, sh, mode, k, g, ex)
							for i, tok := range want {
								require.Equal(t, int32(tok), ws.slotTok[off+i], name)
								require.Equal(t, int32(ex), ws.slotExp[off+i], name)
								want, got := p[tok*sh.e+ex], float64(ws.slotGate[off+i])
								require.True(t, want == got || math.IsNaN(want) && math.IsNaN(got), name)
							}
						}
					}
				}
			}
		}
	}
}

func TestSelectTokens(t *testing.T) {
	t.Run("f32", testSelectTokens[float32])
	t.Run("f64", testSelectTokens[float64])
}

func TestProbKeyOrder(t *testing.T) {
	vals := []float64{math.Inf(-1), -2, -1e-300, 0, 1e-300, 1e-40, 0.25, 0.5, 1, math.Inf(1)}
	for i := 1; i < len(vals); i++ {
		require.Less(t, probKey(vals[i-1]), probKey(vals[i]), "%v < %v", vals[i-1], vals[i])
		a, b := float32(vals[i-1]), float32(vals[i])
		if a < b {
			require.Less(t, probKey(a), probKey(b), "%v < %v", a, b)
		}
	}
	require.Equal(t, probKey(0.0), probKey(math.Copysign(0, -1)))
	require.Equal(t, probKey(float32(0)), probKey(float32(math.Copysign(0, -1))))
	require.Less(t, probKey(math.NaN()), probKey(math.Inf(-1)))
	require.Less(t, probKey(float32(math.NaN())), probKey(float32(math.Inf(-1))))
}

// TestTopKChoice checks each token's K experts (ties to the lower index,
// NaN below every number) against a stable sort.
func TestTopKChoice(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, e := range []int{1, 2, 5, 8, 64} {
		for k := 1; k <= min(e, 4); k++ {
			c := Config{Experts: e, D: 2, Hidden: 2, Act: kernels.ActReLU, Rule: TopK, K: k, Capacity: 1,
				Group: GroupBatch, MaxBatch: 1, MaxSeq: 40}
			ws := NewWorkspace[float32](c)
			const tn = 40
			for i := range tn * e {
				ws.logits[i] = float32(r.IntN(3))
				if tn/2 <= i/e && i/e < tn/2+5 {
					ws.logits[i] = float32(math.NaN()) // NaN rows
				}
			}
			ws.router(0, 0, tn)
			for tok := range tn {
				p := ws.probs[tok*e : (tok+1)*e]
				ord := make([]int, e)
				for i := range ord {
					ord[i] = i
				}
				val := func(i int) float64 {
					if v := float64(p[i]); !math.IsNaN(v) {
						return v
					}
					return -0.5
				}
				sort.SliceStable(ord, func(i, j int) bool { return val(ord[i]) > val(ord[j]) })
				var sum float64
				for rk := range k {
					require.Equal(t, int32(ord[rk]), ws.chExp[tok*k+rk], "E %d K %d token %d rank %d", e, k, tok, rk)
					sum += float64(p[ord[rk]])
				}
				if !math.IsNaN(sum) {
					require.InDelta(t, sum, ws.gsum[tok], 1e-12)
				}
			}
		}
	}
}
