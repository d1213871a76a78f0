package moe

import (
	"math/rand/v2"
	"testing"

	"github.com/bfcdev/bfc/runtime/kernels"
	"github.com/stretchr/testify/require"
)

// TestRoutes: Routes agrees with the naive reference's assignments and with
// Stats, for both rules over every group, and is empty without a valid
// Forward.
func TestRoutes(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, rule := range []Rule{ExpertChoice, TopK} {
		for _, group := range []Group{GroupBatch, GroupSequence, GroupPosition} {
			c := Config{Experts: 4, D: 5, Hidden: 3, Act: kernels.ActGELU, Rule: rule, Capacity: 0.75, Group: group, K: 2, MaxBatch: 4, MaxSeq: 6}
			if rule == ExpertChoice {
				c.Capacity = 2
			}
			require.NoError(t, c.Validate())
			p := newParams(r, c, 4, 6)
			ws, _, _ := forwardAs[float64](t, c, p, 4, 6)
			ref := refForward(c, p.x, p.wg, p.w1, p.w2, 4, 6)
			rt := ws.Routes()
			want := make([][]int32, c.Experts)
			for tok, as := range ref.assign {
				for _, a := range as {
					want[a.expert] = append(want[a.expert], int32(tok))
				}
			}
			st := ws.Stats()
			for ex := range c.Experts {
				require.Equal(t, want[ex], rt.Tokens[ex], "%v/%v expert %d", rule, group, ex)
				require.Len(t, rt.Tokens[ex], st.Load[ex])
			}
			require.Len(t, rt.Dropped, st.Dropped, "%v/%v", rule, group)
			require.Equal(t, ref.dropped, len(rt.Dropped))
			if rule == TopK {
				require.NotZero(t, st.Dropped, "capacity 0.75 drops choices")
				// A dropped choice is missing from the token's assignments.
				for _, d := range rt.Dropped {
					require.Less(t, len(ref.assign[d.Token]), c.K)
				}
			}
		}
	}

	// TestTopKPriority's case: token 0's second choice (expert 0) is dropped.
	c := Config{Experts: 4, D: 4, Hidden: 3, Act: kernels.ActSiLU, Rule: TopK, K: 2, Capacity: 1, Group: GroupBatch, MaxBatch: 1, MaxSeq: 2}
	ws, _, _ := forwardAs[float32](t, c, logitParams(c, [][]float64{{2, 3, 0, -1}, {3, -1, 2, 0}}), 1, 2)
	require.Equal(t, Routes{Tokens: [][]int32{{1}, {0}, {1}, {}}, Dropped: []Choice{{Token: 0, Rank: 1}}}, ws.Routes())

	require.Equal(t, Routes{}, NewWorkspace[float32](c).Routes(), "no Forward yet")
	_, err := Forward(ws, make([]float32, 100), make([]float32, 100), nil, nil, nil, 1, 9)
	require.Error(t, err)
	require.Equal(t, Routes{}, ws.Routes(), "after a failed Forward")
}
