package plot

import (
	"bytes"
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// bruteFront is ParetoFront by its definition: every ok trial with finite
// values that no other such trial dominates, by step time, then index.
func bruteFront(trials []Trial) []int {
	usable := func(t Trial) bool {
		return t.Status == "ok" && !math.IsNaN(t.StepTime) && !math.IsInf(t.StepTime, 0) &&
			!math.IsNaN(t.BPB) && !math.IsInf(t.BPB, 0)
	}
	out := []int{}
	for i, a := range trials {
		if !usable(a) {
			continue
		}
		dominated := false
		for j, b := range trials {
			if j != i && usable(b) && b.StepTime <= a.StepTime && b.BPB <= a.BPB &&
				(b.StepTime < a.StepTime || b.BPB < a.BPB) {
				dominated = true
				break
			}
		}
		if !dominated {
			out = append(out, i)
		}
	}
	slices.SortStableFunc(out, func(i, j int) int { return cmpFloat(trials[i].StepTime, trials[j].StepTime) })
	return out
}

func TestParetoFrontSmall(t *testing.T) {
	nan := math.NaN()
	trials := []Trial{
		{Label: "0", StepTime: 0.30, BPB: 1.20, Status: "ok", Baseline: true}, // front
		{Label: "1", StepTime: 0.10, BPB: 1.50, Status: "ok"},                 // front
		{Label: "2", StepTime: 0.20, BPB: 1.50, Status: "ok"},                 // dominated by 1
		{Label: "3", StepTime: 0.05, BPB: 1.00, Status: "hurdle"},             // not ok
		{Label: "4", StepTime: 0.01, BPB: nan, Status: "rejected"},
		{Label: "5", StepTime: 0.40, BPB: 1.20, Status: "ok"},         // dominated by 0
		{Label: "6", StepTime: 0.30, BPB: 1.20, Status: "ok"},         // equal to 0: front
		{Label: "7", StepTime: 0.50, BPB: 1.10, Status: "ok"},         // front
		{Label: "8", StepTime: math.Inf(1), BPB: 0.1, Status: "ok"},   // ignored
		{Label: "9", StepTime: 0.02, BPB: math.Inf(-1), Status: "ok"}, // ignored
		{Label: "10", StepTime: 0.50, BPB: 1.15, Status: "ok"},        // dominated by 7
		{Label: "11", StepTime: 0.08, BPB: 0.90, Status: "failed"},    // not ok
	}
	require.Equal(t, []int{1, 0, 6, 7}, ParetoFront(trials))
	require.Equal(t, []int{1, 0, 6, 7}, bruteFront(trials))
	require.Empty(t, ParetoFront(nil))
	require.Empty(t, ParetoFront(trials[3:5]))
}

func TestParetoFrontRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	statuses := []string{"ok", "ok", "ok", "hurdle", "rejected", "failed", "weird"}
	value := func(grid float64) float64 {
		switch rng.IntN(20) {
		case 0:
			return math.NaN()
		case 1:
			return math.Inf(1 - 2*rng.IntN(2))
		case 2:
			return math.Copysign(0, -1)
		}
		if rng.IntN(2) == 0 {
			return float64(rng.IntN(6)) * grid // ties
		}
		return rng.Float64() * 6 * grid
	}
	sizes := 0
	for iter := range 3000 {
		n := rng.IntN(40)
		trials := make([]Trial, n)
		for i := range trials {
			if i > 0 && rng.IntN(6) == 0 {
				trials[i] = trials[rng.IntN(i)] // a duplicate
				continue
			}
			trials[i] = Trial{
				StepTime: value(0.05), BPB: value(0.25),
				Status: statuses[rng.IntN(len(statuses))], Baseline: i == 0,
			}
		}
		want := bruteFront(trials)
		require.Equal(t, want, ParetoFront(trials), "set %d: %+v", iter, trials)
		sizes += len(want)
	}
	require.Greater(t, sizes, 3000, "the random sets have fronts of some size")
}

// searchTrials has a front falling from the left of the plot to its right,
// dominated trials above it, hurdle-stopped and rejected ones.
func searchTrials() []Trial {
	nan := math.NaN()
	ts := []Trial{
		{Label: "#0", StepTime: 0.200, BPB: 1.30, Status: "ok", Baseline: true},
		{Label: "#1", StepTime: 0.100, BPB: 1.60, Status: "ok"},
		{Label: "#2", StepTime: 0.150, BPB: 1.45, Status: "ok"},
		{Label: "#3", StepTime: 0.300, BPB: 1.20, Status: "ok"},
		{Label: "#4", StepTime: 0.400, BPB: 1.10, Status: "ok"},
		{Label: "#5", StepTime: 0.250, BPB: 1.50, Status: "ok"},
		{Label: "#6", StepTime: 0.350, BPB: 1.40, Status: "ok"},
		{Label: "#7", StepTime: 0.120, BPB: 1.90, Status: "hurdle"},
		{Label: "#8", StepTime: 0.330, BPB: 1.80, Status: "hurdle"},
		{Label: "#9", StepTime: 0.460, BPB: nan, Status: "rejected"},
		{Label: "#10", StepTime: 0.480, BPB: nan, Status: "rejected"},
		{Label: "#11", StepTime: 0.180, BPB: nan, Status: "failed"},
	}
	return ts
}

func TestParetoPNG(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, ParetoPNG(searchTrials(), 0.45, "search", &buf))
	img, err := png.Decode(&buf)
	require.NoError(t, err)
	require.Equal(t, image.Rect(0, 0, Width, Height), img.Bounds())

	count := func(q [4][]int) int { return len(q[0]) + len(q[1]) + len(q[2]) + len(q[3]) }
	front, base := colourRows(img, FrontColor), colourRows(img, BaselineColor)
	require.Greater(t, count(front), 500, "the front's staircase")
	require.Greater(t, count(base), 150, "the baseline's marker")
	require.Greater(t, count(colourRows(img, TrialColor)), 50, "ok trials")
	require.Greater(t, count(colourRows(img, HurdleColor)), 30, "hurdle-stopped trials")
	require.Greater(t, count(colourRows(img, FailedColor)), 10, "the failed trial")
	// The front falls from left to right: it is higher (smaller y) in the
	// second quarter than in the last.
	require.NotEmpty(t, front[1])
	require.NotEmpty(t, front[3])
	require.Less(t, mean(front[1]), mean(front[3]))
	// The rejected trials sit along the top edge, at the right, above all
	// the ok trials.
	rej, ok := colourRows(img, RejectedColor), colourRows(img, TrialColor)
	require.Greater(t, len(rej[3]), 20)
	require.Less(t, slices.Max(rej[3]), slices.Min(slices.Concat(ok[1], ok[2], ok[3])))
	// The limit line at 450 ms crosses the plot on the right.
	lim := colourRows(img, LimitColor)
	require.Greater(t, len(lim[3]), 150)
	require.Less(t, slices.Min(lim[3]), Height/4)
	require.Greater(t, slices.Max(lim[3]), 3*Height/4)
}

func TestParetoPNGStaircase(t *testing.T) {
	// A front of two points, slow and good at the lower right, fast and
	// bad at the upper left: the staircase goes right from the fast one at
	// its height, then down to the slow one, across the upper half.
	trials := []Trial{
		{Label: "fast", StepTime: 0.1, BPB: 2, Status: "ok"},
		{Label: "slow", StepTime: 0.4, BPB: 1, Status: "ok"},
	}
	var buf bytes.Buffer
	require.NoError(t, ParetoPNG(trials, 0, "staircase", &buf))
	img, err := png.Decode(&buf)
	require.NoError(t, err)
	front := colourRows(img, FrontColor)
	for _, q := range []int{1, 2} {
		require.Greater(t, len(front[q]), 200, "quarter %d", q)
		require.Less(t, slices.Max(front[q]), Height/3, "quarter %d", q)
	}
}

func TestParetoPNGWithoutFront(t *testing.T) {
	// Only hurdle-stopped trials and no limit: no front, baseline nor limit.
	trials := []Trial{
		{Label: "a", StepTime: 0.1, BPB: 2, Status: "hurdle"},
		{Label: "b", StepTime: 0.2, BPB: 1.8, Status: "hurdle"},
		{Label: "c", StepTime: 0.2, BPB: 1.8, Status: "ok", Baseline: true},
	}
	trials[2].BPB = math.NaN() // an ok baseline without a bpb is left out
	var buf bytes.Buffer
	require.NoError(t, ParetoPNG(trials, 0, "no front", &buf))
	img, err := png.Decode(&buf)
	require.NoError(t, err)
	require.Equal(t, image.Rect(0, 0, Width, Height), img.Bounds())
	for _, c := range []struct {
		name string
		q    [4][]int
	}{
		{"front", colourRows(img, FrontColor)},
		{"baseline", colourRows(img, BaselineColor)},
		{"limit", colourRows(img, LimitColor)},
		{"rejected", colourRows(img, RejectedColor)},
	} {
		for q := range c.q {
			require.Empty(t, c.q[q], "no %s", c.name)
		}
	}
	hurdle := colourRows(img, HurdleColor)
	require.Greater(t, len(hurdle[0])+len(hurdle[1])+len(hurdle[2])+len(hurdle[3]), 30)

	// A single ok trial (all x and y equal) plots as well.
	buf.Reset()
	require.NoError(t, ParetoPNG([]Trial{{StepTime: 0.1, BPB: 1, Status: "ok", Baseline: true}}, 0.1, "one", &buf))
	img, err = png.Decode(&buf)
	require.NoError(t, err)
	require.Equal(t, image.Rect(0, 0, Width, Height), img.Bounds())
}

func TestParetoPNGNothingToPlot(t *testing.T) {
	nan := math.NaN()
	for _, trials := range [][]Trial{
		nil,
		{{StepTime: 0.5, BPB: nan, Status: "rejected"}, {StepTime: 0.5, BPB: nan, Status: "failed", Baseline: true}},
		{{StepTime: nan, BPB: 1, Status: "ok"}, {StepTime: 0.1, BPB: math.Inf(1), Status: "hurdle"}},
		{{StepTime: 0.1, BPB: 1, Status: "unknown"}},
	} {
		var buf bytes.Buffer
		require.ErrorContains(t, ParetoPNG(trials, 0.3, "x", &buf), "no trial", "%+v", trials)
		require.Zero(t, buf.Len())
	}
}

func TestParetoFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pareto.png")
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o644))
	require.NoError(t, ParetoFile(searchTrials(), 0.45, "search", path))
	require.NoError(t, ParetoFile(searchTrials()[:5], 0, "again", path))
	img := decode(t, path)
	require.Equal(t, image.Rect(0, 0, Width, Height), img.Bounds())
	names := func() (out []string) {
		ents, err := os.ReadDir(dir)
		require.NoError(t, err)
		for _, e := range ents {
			out = append(out, e.Name())
		}
		return out
	}
	require.Equal(t, []string{"pareto.png"}, names(), "no temporary file left")

	// On an error the old file stays and nothing else appears.
	require.Error(t, ParetoFile(nil, 0, "none", path))
	require.Equal(t, []string{"pareto.png"}, names())
	decode(t, path)
	require.Error(t, ParetoFile(searchTrials(), 0, "x", filepath.Join(dir, "missing", "p.png")))
	require.Equal(t, []string{"pareto.png"}, names())

	// A failed rename (over a directory that is not empty) leaves no
	// temporary file either.
	sub := filepath.Join(dir, "sub")
	require.NoError(t, os.MkdirAll(filepath.Join(sub, "x"), 0o755))
	require.Error(t, ParetoFile(searchTrials(), 0, "x", sub))
	require.Equal(t, []string{"pareto.png", "sub"}, names())
	require.NoError(t, os.RemoveAll(sub))

	// A path without a directory goes to the working directory.
	t.Chdir(dir)
	require.NoError(t, ParetoFile(searchTrials(), 0, "here", "here.png"))
	require.Equal(t, []string{"here.png", "pareto.png"}, names())
}
