package search

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bfcdev/bfc/compiler/check"
	"github.com/bfcdev/bfc/compiler/stats"
)

// testSpace is a small space around a two-block Brainformer6 baseline.
const testSpace = `import "std/brainformer.bf"

model M {
    input(batch: 16, seq: 32)
    embed(vocab: 256, dim: 64)
    repeat 2 Brainformer6(d: 64, heads: 4, experts: 4)
    norm rms
    head tied
    loss cross_entropy
}

search S {
    baseline M
    blocks: [1, 2, 3]
    sublayers: range(min: 2, max: 6)
    kinds: [attention, ffn, moe]
    d: [32, 64, 96]
    PERLAYER
    attention(heads: [2, 4])
    ffn(hidden: [64, 128, 256], act: [gelu, sqrelu])
    moe(experts: [4], hidden: [64, 128], route: [expert_choice(capacity: [1, 2], group: position), top_k(k: [1, 2], group: position)])
}
`

func loadSpace(t testing.TB, perLayer bool) *check.Space {
	t.Helper()
	src := strings.Replace(testSpace, "PERLAYER", "per_layer: "+strconv.FormatBool(perLayer), 1)
	res, diags := check.CheckSource(check.Config{}, "space.bf", []byte(src))
	require.Empty(t, diags)
	require.Len(t, res.Spaces, 1)
	return res.Spaces[0]
}

// target is the synthetic optimum: a genome of the space.
func target() *Genome {
	return &Genome{Blocks: 3, D: 96, Attrs: map[string]string{
		"attention.heads": "2", "attention.head_dim": "", "ffn.hidden": "128", "ffn.act": "sqrelu",
		"moe.experts": "4", "moe.hidden": "64", "moe.act": "gelu", "moe.route": "top_k(k: 1, capacity: 1.25, group: position, aux: 0.01)",
	}, Layers: []Layer{{Kind: "attention"}, {Kind: "moe"}, {Kind: "ffn"}, {Kind: "moe"}}}
}

// distance is the synthetic fitness: the edit distance between the kind
// sequences plus, per aligned sub-layer, the attributes that differ, plus
// the block count and d that differ. It is 0 at the target only.
func distance(g, want *Genome) float64 {
	a, b := g.Layers, want.Layers
	dp := make([][]float64, len(a)+1)
	for i := range dp {
		dp[i] = make([]float64, len(b)+1)
		dp[i][0] = float64(i)
	}
	for j := range b {
		dp[0][j+1] = float64(j + 1)
	}
	for i := range a {
		for j := range b {
			sub := 0.0
			if a[i].Kind != b[j].Kind {
				sub = 1
			} else {
				for _, k := range kindKeys(a[i].Kind) {
					if g.value(i, k) != want.value(j, k) {
						sub += 0.5
					}
				}
			}
			dp[i+1][j+1] = min(dp[i][j]+sub, dp[i][j+1]+1, dp[i+1][j]+1)
		}
	}
	d := dp[len(a)][len(b)]
	if g.Blocks != want.Blocks {
		d++
	}
	if g.D != want.D {
		d++
	}
	return d
}

// synthetic is an Evaluator with a known optimum; no training.
type synthetic struct {
	mu      sync.Mutex
	want    *Genome
	step    func(*Trial) float64
	fail    func(*Trial) error
	trained []int
	delay   time.Duration
}

func (s *synthetic) StepTime(ctx context.Context, t *Trial) (float64, error) {
	if s.step != nil {
		return s.step(t), nil
	}
	return 0.1, nil
}

func (s *synthetic) Train(ctx context.Context, t *Trial) (*Outcome, error) {
	if s.delay > 0 {
		select {
		case <-time.After(s.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	s.mu.Lock()
	s.trained = append(s.trained, t.N)
	s.mu.Unlock()
	if s.fail != nil {
		if err := s.fail(t); err != nil {
			return nil, err
		}
	}
	d := distance(t.Genome, s.want)
	return &Outcome{BPB: 2 + d/10, HurdleBPB: 3 + d/10, Steps: 100, Seconds: 1}, nil
}

func config(strategy string, seed uint64, trials int) Config {
	return Config{Strategy: strategy, Seed: seed, Population: 16, Sample: 8, Budget: time.Hour, Trial: time.Millisecond,
		Workers: 1, Threads: 1, Slack: 0.1, MaxTrials: trials}
}

// bestAfter is the lowest distance among the first n finished trials.
func bestAfter(recs []*Record, n int) (float64, int) {
	best, at := math.Inf(1), -1
	k := 0
	for _, r := range recs {
		if r.Event != EvFinished {
			continue
		}
		k++
		if k > n {
			break
		}
		if v := (r.BPB.val() - 2) * 10; v < best-1e-9 {
			best, at = v, r.Trial
		}
	}
	return best, at
}

func TestEvolutionFindsOptimum(t *testing.T) {
	s := loadSpace(t, false)
	want := target()
	require.Empty(t, InSpace(s, want))
	const trials = 500
	const seeds = 6
	var evoSum, rndSum float64
	found := 0
	for seed := uint64(1); seed <= seeds; seed++ {
		var bests [2]float64
		for i, strat := range []string{Evolution, RandomSearch} {
			ev := &synthetic{want: want}
			recs, err := Run(context.Background(), s, config(strat, seed, trials), filepath.Join(t.TempDir(), "j.jsonl"), false, ev)
			require.NoError(t, err)
			best, at := bestAfter(recs, trials)
			bests[i] = best
			if strat == Evolution && best == 0 {
				found++
				t.Logf("seed %d: evolution found the optimum at trial %d", seed, at)
			}
		}
		t.Logf("seed %d: best distance after %d trials: evolution %.1f, random %.1f", seed, trials, bests[0], bests[1])
		evoSum += bests[0]
		rndSum += bests[1]
	}
	// The optimum is found within 500 trials in most seeds, and evolution
	// beats random search on average.
	require.GreaterOrEqual(t, found, seeds-1, "evolution found the optimum in only %d of %d seeds", found, seeds)
	require.Less(t, evoSum, rndSum, "evolution (mean %.2f) does not beat random search (mean %.2f)", evoSum/seeds, rndSum/seeds)
}

func TestMutationsStayInSpace(t *testing.T) {
	for _, perLayer := range []bool{false, true} {
		s := loadSpace(t, perLayer)
		rng := rand.New(rand.NewPCG(1, 2))
		kinds := map[string]int{}
		g := Project(s, Baseline(s), rng)
		require.Empty(t, InSpace(s, g))
		for i := 0; i < 3000; i++ {
			if i%50 == 0 {
				g = Random(s, rng)
				require.Empty(t, InSpace(s, g))
			}
			c, desc := Mutate(s, g, rng)
			require.NotEmpty(t, desc)
			require.Empty(t, InSpace(s, c), "after %s", desc)
			require.NotEqual(t, Render(s, g), Render(s, c), "mutation %q changed nothing", desc)
			kind, _, _ := strings.Cut(desc, ":")
			kinds[kind]++
			g = c
		}
		for _, k := range []string{MutKind, MutInsert, MutDelete, MutSwap, MutAttr} {
			require.Positive(t, kinds[k], "mutation %s never drawn (per_layer %v)", k, perLayer)
		}
		if perLayer {
			sawLayer := false
			for i := 0; i < 200 && !sawLayer; i++ {
				_, desc := Mutate(s, Random(s, rng), rng)
				sawLayer = strings.HasPrefix(desc, "attr: sub-layer")
			}
			require.True(t, sawLayer, "per_layer spaces never change one sub-layer's attribute")
		}
	}
}

func TestCanonicalDuplicates(t *testing.T) {
	s := loadSpace(t, true)
	// The same block, once with a block-level value and once with every
	// sub-layer overriding it to the same value.
	a := &Genome{Blocks: 2, D: 64, Attrs: cloneMap(target().Attrs), Layers: []Layer{{Kind: "ffn"}, {Kind: "ffn"}}}
	b := a.Clone()
	b.Attrs["ffn.hidden"] = "64"
	for i := range b.Layers {
		b.Layers[i].Over = map[string]string{"ffn.hidden": "128"}
	}
	require.Equal(t, Render(s, a), Render(s, b))
	c := a.Clone()
	c.Layers[1].Over = map[string]string{"ffn.hidden": "256"}
	require.NotEqual(t, Render(s, a), Render(s, c))
	// The candidate text passes the checker and counts parameters as
	// the layers say: two ffn of 64 → 128 → 64 (ungated sqrelu) per block.
	ch, msg := Check(Render(s, a))
	require.Empty(t, msg)
	perBlock := int64(2 * (64*128 + 128*64 + 64)) // up, down, norm scale
	require.Equal(t, 256*64+32*64+2*perBlock+64, ch.Params)

	// A search never trains one text twice.
	recs, err := Run(context.Background(), s, config(Evolution, 3, 120), filepath.Join(t.TempDir(), "j.jsonl"), false, &synthetic{want: target()})
	require.NoError(t, err)
	seen := map[string]int{}
	for _, r := range recs {
		if r.Event == EvStarted {
			prev, dup := seen[r.Candidate]
			require.False(t, dup, "trial %d repeats trial %d", r.Trial, prev)
			seen[r.Candidate] = r.Trial
		}
	}
	require.Len(t, seen, 120)
}

func TestBaselineRendersAsItself(t *testing.T) {
	s := loadSpace(t, true)
	ch, msg := Check(Render(s, Baseline(s)))
	require.Empty(t, msg)
	// The same parameters as the baseline model compiled from its own
	// source, layer by layer.
	res, diags := check.CheckSource(check.Config{}, "b.bf", []byte(strings.SplitN(testSpace, "search S", 2)[0]))
	require.Empty(t, diags)
	orig := res.Models[0]
	require.Equal(t, stats.Compute(orig).Params, ch.Params)
	require.Equal(t, stats.Compute(orig).Activated, ch.Activated)
	require.Len(t, ch.Model.Layers, len(orig.Layers))
	for i, l := range ch.Model.Layers {
		b := orig.Layers[i]
		require.Equal(t, b.Kind, l.Kind)
		require.Equal(t, b.Hidden, l.Hidden)
		require.Equal(t, b.Act, l.Act)
		require.Equal(t, b.Heads, l.Heads)
		require.Equal(t, b.HeadDim, l.HeadDim)
		require.Equal(t, b.Experts, l.Experts)
		require.Equal(t, b.Route.Text(), l.Route.Text())
	}
}

func TestStepTimeRejection(t *testing.T) {
	s := loadSpace(t, false)
	base := len(s.BaselineLayers)
	// A step costs 10 ms per sub-layer and block: more layers than the
	// baseline's are over the 10 % slack.
	ev := &synthetic{want: target(), step: func(tr *Trial) float64 {
		return 0.01 * float64(len(tr.Genome.Layers)*tr.Genome.Blocks)
	}}
	recs, err := Run(context.Background(), s, config(Evolution, 1, 60), filepath.Join(t.TempDir(), "j.jsonl"), false, ev)
	require.NoError(t, err)
	sum := Summarise(recs)
	limit := 0.01 * float64(base*s.BaselineBlocks) * 1.1
	rejected := 0
	trained := map[int]bool{}
	for _, n := range ev.trained {
		trained[n] = true
	}
	for _, tr := range sum.Trials {
		switch tr.Status {
		case EvRejected:
			rejected++
			require.Greater(t, tr.StepTime, limit)
			require.InDelta(t, limit, tr.Limit, 1e-12)
			require.False(t, trained[tr.N], "trial %d was rejected and trained", tr.N)
		case EvFinished:
			require.LessOrEqual(t, tr.StepTime, limit+1e-12)
			require.True(t, trained[tr.N])
		default:
			t.Fatalf("trial %d: %s", tr.N, tr.Status)
		}
	}
	require.Positive(t, rejected)
	require.Equal(t, rejected, sum.Rejected)
}

func TestFailedTrialsKeepSearching(t *testing.T) {
	s := loadSpace(t, false)
	ev := &synthetic{want: target(), fail: func(tr *Trial) error {
		switch {
		case tr.N%5 == 3:
			panic("index out of range [7] with length 3")
		case tr.N%5 == 4:
			return errors.New("out of memory: fatal error: runtime: out of memory")
		}
		return nil
	}}
	nan := &nanEval{synthetic: ev}
	recs, err := Run(context.Background(), s, config(Evolution, 2, 30), filepath.Join(t.TempDir(), "j.jsonl"), false, nan)
	require.NoError(t, err)
	sum := Summarise(recs)
	require.Equal(t, 30, sum.Done)
	for _, tr := range sum.Trials {
		switch {
		case tr.N%5 == 3:
			require.Equal(t, EvFailed, tr.Status)
			require.Contains(t, tr.Reason, "panic: index out of range")
		case tr.N%5 == 4:
			require.Equal(t, EvFailed, tr.Status)
			require.Contains(t, tr.Reason, "out of memory")
		case tr.N%5 == 2 && tr.N > 0:
			require.Equal(t, EvFailed, tr.Status)
			require.Contains(t, tr.Reason, "diverged")
		default:
			require.Equal(t, EvFinished, tr.Status, "trial %d: %s", tr.N, tr.Reason)
		}
	}
}

// nanEval makes every trial n with n%5 == 2 diverge.
type nanEval struct{ *synthetic }

func (e *nanEval) Train(ctx context.Context, t *Trial) (*Outcome, error) {
	o, err := e.synthetic.Train(ctx, t)
	if err == nil && t.N%5 == 2 {
		o.BPB = math.NaN()
	}
	return o, err
}

func TestHurdle(t *testing.T) {
	s := loadSpace(t, false)
	cfg := config(Evolution, 4, 60)
	cfg.Hurdle = 0.25
	ev := &hurdleEval{synthetic: &synthetic{want: target()}}
	recs, err := Run(context.Background(), s, cfg, filepath.Join(t.TempDir(), "j.jsonl"), false, ev)
	require.NoError(t, err)
	stopped := 0
	var hurdles []float64
	for _, r := range recs {
		switch r.Event {
		case EvStarted:
			th := r.Threshold.val()
			// The threshold is the median hurdle value of the population at
			// the time: at least minHurdle values seen, never below the
			// smallest of them.
			if len(hurdles) < minHurdle {
				require.True(t, math.IsNaN(th), "trial %d has a threshold with %d hurdle values", r.Trial, len(hurdles))
			} else {
				require.False(t, math.IsNaN(th), "trial %d has no threshold", r.Trial)
			}
		case EvFinished:
			hurdles = append(hurdles, r.HurdleBPB.val())
			if r.Stopped {
				stopped++
				require.Equal(t, r.HurdleBPB.val(), r.BPB.val())
			}
		}
	}
	require.Positive(t, stopped)
	require.Equal(t, stopped, ev.stopped)
}

// hurdleEval stops a trial whose hurdle value is above its threshold, as
// the trainer does.
type hurdleEval struct {
	*synthetic
	stopped int
}

func (e *hurdleEval) Train(ctx context.Context, t *Trial) (*Outcome, error) {
	o, err := e.synthetic.Train(ctx, t)
	if err == nil && !math.IsNaN(t.Threshold) && o.HurdleBPB > t.Threshold {
		o.Stopped, o.BPB = true, o.HurdleBPB
		e.stopped++
	}
	return o, err
}

// The resume test runs the search in a child process, kills it, and
// resumes.
func TestMain(m *testing.M) {
	if path := os.Getenv("BFC_SEARCH_TEST_CHILD"); path != "" {
		s := loadSpace(&testing.T{}, true)
		_, err := Run(context.Background(), s, config(Evolution, 7, 80), path, os.Getenv("BFC_SEARCH_TEST_RESUME") != "", &synthetic{want: target(), delay: 20 * time.Millisecond})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func started(recs []*Record) []string {
	var out []string
	for _, r := range recs {
		if r.Event == EvStarted {
			out = append(out, r.Candidate)
		}
	}
	return out
}

func TestResumeAfterKill(t *testing.T) {
	s := loadSpace(t, true)
	// The uninterrupted search.
	full, err := Run(context.Background(), s, config(Evolution, 7, 80), filepath.Join(t.TempDir(), "full.jsonl"), false, &synthetic{want: target()})
	require.NoError(t, err)
	want := started(full)
	require.Len(t, want, 80)

	path := filepath.Join(t.TempDir(), "killed.jsonl")
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), "BFC_SEARCH_TEST_CHILD="+path)
	require.NoError(t, cmd.Start())
	deadline := time.Now().Add(30 * time.Second)
	for {
		recs, _, _ := ReadJournal(path)
		n := 0
		for _, r := range recs {
			if r.Event == EvFinished {
				n++
			}
		}
		if n >= 25 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the child search did not get going")
		time.Sleep(5 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	cmd.Wait()
	before, _, err := ReadJournal(path)
	require.NoError(t, err)
	require.Less(t, len(started(before)), 80, "the child finished before it was killed")
	// A write cut short by the kill.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	f.WriteString(`{"event":"finished","trial":`)
	f.Close()

	recs, err := Run(context.Background(), s, config(Evolution, 7, 80), path, true, &synthetic{want: target()})
	require.NoError(t, err)
	require.Equal(t, want, started(recs)[:80], "the resumed search proposes other candidates than the uninterrupted one")
	// Same fitness values, same best.
	b1, at1 := bestAfter(full, 80)
	sum := Summarise(recs)
	require.Equal(t, 80, sum.Done)
	b2 := (sum.Best().BPB - 2) * 10
	require.InDelta(t, b1, b2, 1e-9, "best %d vs %d", at1, sum.Best().N)

	// Resuming with another seed is refused, naming it.
	cfg := config(Evolution, 8, 80)
	_, err = Run(context.Background(), s, cfg, path, true, &synthetic{want: target()})
	require.ErrorContains(t, err, "-seed 7 (journal) vs 8 (now)")
	// A fresh search refuses to overwrite a journal.
	_, err = Run(context.Background(), s, config(Evolution, 7, 80), path, false, &synthetic{want: target()})
	require.ErrorContains(t, err, "already exists")
}

func TestJournalErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte("{\"event\":\"search\",\"settings\":{}}\nnot json\n{\"event\":\"started\"}\n"), 0o644)
	_, _, err := ReadJournal(bad)
	require.ErrorContains(t, err, "bad.jsonl:2: not a search journal record")
	other := filepath.Join(dir, "other.jsonl")
	os.WriteFile(other, []byte("{\"event\":\"started\",\"trial\":0}\n"), 0o644)
	_, _, err = ReadJournal(other)
	require.ErrorContains(t, err, "starts with a \"search\" record")
}

func TestInterrupt(t *testing.T) {
	s := loadSpace(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	ev := &synthetic{want: target(), delay: 10 * time.Millisecond}
	path := filepath.Join(t.TempDir(), "j.jsonl")
	go func() {
		time.Sleep(150 * time.Millisecond)
		cancel()
	}()
	recs, err := Run(ctx, s, config(Evolution, 1, 1000), path, false, ev)
	require.ErrorIs(t, err, ErrInterrupted)
	sum := Summarise(recs)
	require.Positive(t, sum.Done)
	require.Less(t, sum.Done, 1000)
	// The trial in flight was not recorded as failed; resume runs it.
	require.Zero(t, sum.Failed)
	recs, err = Run(context.Background(), s, config(Evolution, 1, sum.Done+3), path, true, &synthetic{want: target()})
	require.NoError(t, err)
	require.Equal(t, sum.Done+3, Summarise(recs).Done)
}

func TestWorkers(t *testing.T) {
	s := loadSpace(t, false)
	cfg := config(Evolution, 5, 40)
	cfg.Workers = 3
	ev := &synthetic{want: target(), delay: 5 * time.Millisecond}
	recs, err := Run(context.Background(), s, cfg, filepath.Join(t.TempDir(), "j.jsonl"), false, ev)
	require.NoError(t, err)
	sum := Summarise(recs)
	require.Equal(t, 40, sum.Done)
	// Nothing starts before the baseline's step time is known, and then
	// up to three trials run at once.
	measured0, most, running := false, 0, 0
	for _, r := range recs {
		switch r.Event {
		case EvMeasured:
			measured0 = measured0 || r.Trial == 0
		case EvStarted:
			if r.Trial > 0 {
				require.True(t, measured0, "trial %d started before the baseline was measured", r.Trial)
			}
			running++
			most = max(most, running)
		case EvFinished, EvRejected, EvFailed:
			running--
		}
	}
	require.Equal(t, 3, most)
	require.Len(t, started(recs), 40)
}

func TestInitRandom(t *testing.T) {
	s := loadSpace(t, false)
	cfg := config(Evolution, 6, 40)
	cfg.Init = InitRandom
	recs, err := Run(context.Background(), s, cfg, filepath.Join(t.TempDir(), "j.jsonl"), false, &synthetic{want: target()})
	require.NoError(t, err)
	for _, r := range recs {
		if r.Event != EvStarted {
			continue
		}
		switch {
		case r.Trial == 0:
			require.Equal(t, "baseline", r.Origin)
		case r.Trial < cfg.Population:
			require.Equal(t, "initial: random", r.Origin)
		default:
			require.True(t, strings.HasPrefix(r.Origin, "mutation of #"), "trial %d: %s", r.Trial, r.Origin)
		}
	}
	cfg.Init = "seeded"
	_, err = Run(context.Background(), s, cfg, filepath.Join(t.TempDir(), "k.jsonl"), false, &synthetic{want: target()})
	require.ErrorContains(t, err, `-init "seeded": want baseline or random`)
}

// TestExampleSpace checks examples/search/space.bf: it passes the checker,
// its baseline written as a candidate is examples/charlm/brainformer.bf, and
// most random candidates pass.
func TestExampleSpace(t *testing.T) {
	res, diags := check.Check(check.Config{}, "../examples/search/space.bf")
	require.Empty(t, diags)
	require.Len(t, res.Spaces, 1)
	s := res.Spaces[0]
	charlm, diags := check.Check(check.Config{}, "../examples/charlm/brainformer.bf")
	require.Empty(t, diags)
	ch, msg := Check(Render(s, Baseline(s)))
	require.Empty(t, msg)
	want := stats.Compute(charlm.Models[0])
	require.Equal(t, want.Params, ch.Params)
	require.Equal(t, want.Activated, ch.Activated)
	ok, refusals := Probe(s, 100, 1)
	require.Greater(t, ok, 50, "refusals: %v", refusals)
	require.Equal(t, []int{1, 2, 3, 4}, s.Blocks)
	require.Equal(t, 2, s.MinSub)
	require.Equal(t, 8, s.MaxSub)
}
