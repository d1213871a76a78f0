package moe

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/bfcdev/bfc/runtime/kernels"
	"github.com/stretchr/testify/require"
)

func TestParseNames(t *testing.T) {
	for _, r := range []Rule{ExpertChoice, TopK} {
		got, ok := ParseRule(r.String())
		require.True(t, ok)
		require.Equal(t, r, got)
	}
	r, ok := ParseRule("expert_choice")
	require.True(t, ok)
	require.Equal(t, ExpertChoice, r)
	r, ok = ParseRule("top_k")
	require.True(t, ok)
	require.Equal(t, TopK, r)
	_, ok = ParseRule("top2")
	require.False(t, ok)
	for s, g := range map[string]Group{"batch": GroupBatch, "sequence": GroupSequence, "position": GroupPosition} {
		got, ok := ParseGroup(s)
		require.True(t, ok)
		require.Equal(t, g, got)
		require.Equal(t, s, g.String())
	}
	_, ok = ParseGroup("tokens")
	require.False(t, ok)
	require.Equal(t, "Rule(7)", Rule(7).String())
	require.Equal(t, "Group(-1)", Group(-1).String())
}

func goodConfig() Config {
	return Config{Experts: 8, D: 16, Hidden: 32, Act: kernels.ActGELU, Rule: TopK, K: 2, Capacity: 1.25, Group: GroupBatch,
		AuxWeight: 0.01, ZWeight: 1e-3, MaxBatch: 4, MaxSeq: 32}
}

func TestValidate(t *testing.T) {
	require.NoError(t, goodConfig().Validate())
	ec := goodConfig()
	ec.Rule, ec.AuxWeight, ec.K = ExpertChoice, 0, 0
	require.NoError(t, ec.Validate(), "expert choice ignores K")
	ec.Group = GroupPosition // n = 4, k = floor(4·1.25/8) = 0
	cases := []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Experts = 0 }, "at least 1"},
		{func(c *Config) { c.Hidden = -1 }, "hidden -1"},
		{func(c *Config) { c.Act = kernels.Act(42) }, "unknown activation"},
		{func(c *Config) { c.MaxSeq = 0 }, "max seq 0"},
		{func(c *Config) { c.Group = Group(5) }, "unknown routing group"},
		{func(c *Config) { c.Rule = Rule(9) }, "unknown routing rule"},
		{func(c *Config) { c.Capacity = 0 }, "capacity factor 0 must be positive"},
		{func(c *Config) { c.Capacity = math.NaN() }, "capacity factor NaN"},
		{func(c *Config) { c.Capacity = math.Inf(1) }, "finite"},
		{func(c *Config) { c.ZWeight = -1 }, "z-loss weight -1"},
		{func(c *Config) { c.AuxWeight = math.NaN() }, "load-balancing loss weight NaN"},
		{func(c *Config) { c.K = 0 }, "1 <= k <= experts, got k = 0 with 8 experts"},
		{func(c *Config) { c.K = 9 }, "got k = 9"},
		{func(c *Config) { c.Rule, c.K = ExpertChoice, 0 }, "expert choice is balanced by construction and has no load-balancing loss"},
		{func(c *Config) { c.Rule, c.AuxWeight, c.Capacity = ExpertChoice, 0, 9 }, "capacity factor 9 is the mean number of experts per token and cannot exceed the 8 experts"},
		{func(c *Config) { *c = ec }, "k must be at least 1"},
		{func(c *Config) { c.Fill = true }, "fill and causal are expert choice options"},
		{func(c *Config) { c.Causal = true }, "fill and causal are expert choice options"},
	}
	for _, cs := range cases {
		c := goodConfig()
		cs.edit(&c)
		err := c.Validate()
		require.ErrorContains(t, err, cs.want)
		require.Panics(t, func() { NewWorkspace[float32](c) })
	}
	err := ec.Validate()
	require.ErrorContains(t, err, "at the maximum shape")
}

func TestGroupShape(t *testing.T) {
	c := goodConfig()
	g, n := c.GroupShape(3, 7)
	require.Equal(t, [2]int{1, 21}, [2]int{g, n})
	c.Group = GroupSequence
	g, n = c.GroupShape(3, 7)
	require.Equal(t, [2]int{3, 7}, [2]int{g, n})
	c.Group = GroupPosition
	g, n = c.GroupShape(3, 7)
	require.Equal(t, [2]int{7, 3}, [2]int{g, n})
}

func TestCheckShape(t *testing.T) {
	c := goodConfig()
	require.NoError(t, c.CheckShape(4, 32))
	require.NoError(t, c.CheckShape(1, 1), "top-k runs any shape")
	require.ErrorContains(t, c.CheckShape(5, 8), "batch 5 × seq 8 exceeds the layer's maximum 4 × 32")
	require.ErrorContains(t, c.CheckShape(2, 33), "raise the maxima")
	require.ErrorContains(t, c.CheckShape(0, 3), "batch 0 × seq 3: both must be at least 1")

	c.Rule, c.AuxWeight, c.Capacity, c.Group = ExpertChoice, 0, 2, GroupSequence
	require.NoError(t, c.Validate())
	require.NoError(t, c.CheckShape(4, 4)) // k = floor(4·2/8) = 1
	err := c.CheckShape(4, 3)              // k = floor(3·2/8) = 0
	require.Error(t, err)
	for _, s := range []string{"group sequence", "batch 4 × seq 3", "n = 3", "k = floor(n·c/E) = floor(3·2/8) = 0", "at least 1", "larger capacity factor", "fewer experts"} {
		require.Contains(t, err.Error(), s)
	}
	// The same error from Forward, with nothing computed.
	ws := NewWorkspace[float64](c)
	p := newParams(rand.New(rand.NewPCG(1, 1)), c, 4, 3)
	_, err = Forward(ws, make([]float64, 12*c.D), p.x, p.wg, p.w1, p.w2, 4, 3)
	require.ErrorContains(t, err, "floor(3·2/8) = 0")
	require.Panics(t, func() {
		Backward(ws, p.x, p.wg, p.w1, p.w2, p.x, 1, p.x, p.wg, p.w1, p.w2)
	}, "no Backward after a failed Forward")

	// k > n cannot pass Validate (c <= E), but CheckShape still says so.
	c.Capacity = 9
	err = c.CheckShape(4, 16)
	require.ErrorContains(t, err, "n = 16 tokens but k = floor(n·c/E) = 18 tokens per expert")
	require.ErrorContains(t, err, "cannot exceed n")
}

func TestForwardRejectsBadLengths(t *testing.T) {
	c := goodConfig()
	ws := NewWorkspace[float32](c)
	r := rand.New(rand.NewPCG(2, 2))
	p := newParams(r, c, 2, 8)
	x, wg, w1, w2 := conv[float32](p.x), conv[float32](p.wg), conv[float32](p.w1), conv[float32](p.w2)
	y := make([]float32, len(x))
	_, err := Forward(ws, y, x, wg, w1, w2, 2, 8)
	require.NoError(t, err)
	_, err = Forward(ws, y[:len(y)-1], x, wg, w1, w2, 2, 8)
	require.ErrorContains(t, err, "need 256")
	_, err = Forward(ws, y, x, wg[1:], w1, w2, 2, 8)
	require.ErrorContains(t, err, "parameter lengths wg 127")
	c.Gated = true
	_, err = Forward(NewWorkspace[float32](c), y, x, wg, w1, w2, 2, 8)
	require.ErrorContains(t, err, "([E][D][H1])")
	require.Panics(t, func() { Backward(ws, x, wg, w1, w2, y, 1, x, wg, w1, w2) }, "the failed Forward leaves no state")
}

func TestStatsAndFormat(t *testing.T) {
	c := Config{Experts: 4, D: 4, Hidden: 3, Act: kernels.ActSiLU, Rule: TopK, K: 2, Capacity: 1, Group: GroupBatch, MaxBatch: 1, MaxSeq: 2}
	ws := NewWorkspace[float64](c)
	require.Equal(t, Stats{Load: []int{0, 0, 0, 0}}, ws.Stats())
	p := logitParams(c, [][]float64{{2, 3, 0, -1}, {3, -1, 2, 0}})
	_, err := Forward(ws, make([]float64, 8), p.x, p.wg, p.w1, p.w2, 1, 2)
	require.NoError(t, err)
	st := ws.Stats()
	require.Equal(t, Stats{Tokens: 2, Load: []int{1, 1, 1, 0}, PerToken: [4]int{0, 1, 1, 0}, Dropped: 1, Choices: 4}, st)
	st.Load[0] = 99
	require.Equal(t, 1, ws.Stats().Load[0], "Stats returns a copy")

	s := FormatStats([]LayerStats{
		{"blocks.0.moe1", Stats{Tokens: 200, Load: []int{60, 70, 62, 64}, PerToken: [4]int{24, 122, 44, 10}}},
		{"blocks.1.moe", Stats{Tokens: 8, Load: []int{3, 4, 2, 5}, PerToken: [4]int{1, 2, 5, 0}, Dropped: 2, Choices: 16}},
	})
	require.Equal(t, "blocks.0.moe1: load min/max 60/70 of 64 · tokens 0/1/2/3+ experts 12%/61%/22%/5%\n"+
		"blocks.1.moe: load min/max 2/5 of 3.5 · tokens 0/1/2/3+ experts 12%/25%/62%/0% · dropped 12.5%\n", s)
	require.Equal(t, "", FormatStats(nil))
}

// TestNaNInputs: a NaN in x makes NaN outputs but never breaks the
// routing invariants (distinct experts per token, k per expert).
func TestNaNInputs(t *testing.T) {
	for _, rule := range []Rule{ExpertChoice, TopK} {
		c := goodConfig()
		if rule == ExpertChoice {
			c.Rule, c.AuxWeight, c.K = ExpertChoice, 0, 0
		}
		r := rand.New(rand.NewPCG(3, 3))
		p := newParams(r, c, 4, 32)
		for i := range 3 * c.D {
			p.x[5*c.D+i] = math.NaN()
		}
		ws, _, _ := forwardAs[float32](t, c, p, 4, 32)
		st := ws.Stats()
		total := 0
		for _, l := range st.Load {
			total += l
		}
		if rule == TopK {
			require.Equal(t, st.Choices-st.Dropped, total)
			for tok, as := range ws.assignments() {
				seen := map[int]bool{}
				for _, a := range as {
					require.False(t, seen[a.expert], "token %d expert %d twice", tok, a.expert)
					seen[a.expert] = true
				}
			}
		} else {
			require.Equal(t, 8*c.ExpertCapacity(128), total)
		}
	}
}
