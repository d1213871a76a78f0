package search

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/bfcdev/bfc/runtime/plot"
)

// TrialInfo is one trial as the journal tells it.
type TrialInfo struct {
	N         int
	Candidate string
	Origin    string
	Params    int64
	Activated int64
	Status    string  // EvStarted (in flight or lost), EvRejected, EvFinished, EvFailed
	StepTime  float64 // seconds (NaN: not measured)
	Limit     float64
	BPB       float64 // NaN: none
	HurdleBPB float64
	Stopped   bool
	Steps     int
	Reason    string
}

// Summary is a journal's trials and counts.
type Summary struct {
	Settings                                 *Settings
	Trials                                   []*TrialInfo // by trial number
	Done, Rejected, Failed, Hurdled, Running int
	Elapsed                                  float64
}

// Summarise reads the trials out of a journal's records.
func Summarise(recs []*Record) *Summary {
	s := &Summary{}
	by := map[int]*TrialInfo{}
	for _, r := range recs {
		s.Elapsed = max(s.Elapsed, r.Elapsed)
		if r.Event == EvSearch {
			if s.Settings == nil {
				s.Settings = r.Settings
			} else if r.Settings != nil {
				s.Settings.Budget = r.Settings.Budget
			}
			continue
		}
		t := by[r.Trial]
		if r.Event == EvStarted {
			t = &TrialInfo{N: r.Trial, Candidate: r.Candidate, Origin: r.Origin, Params: r.Params, Activated: r.Activated,
				Status: EvStarted, StepTime: math.NaN(), Limit: math.NaN(), BPB: math.NaN(), HurdleBPB: math.NaN()}
			by[r.Trial] = t
			s.Trials = append(s.Trials, t)
			continue
		}
		if t == nil {
			continue
		}
		if r.StepTime != nil {
			t.StepTime = r.StepTime.val()
		}
		if r.Limit != nil {
			t.Limit = r.Limit.val()
		}
		if r.Event == EvMeasured {
			continue
		}
		t.Status, t.Reason = r.Event, r.Reason
		t.BPB, t.HurdleBPB, t.Stopped, t.Steps = r.BPB.val(), r.HurdleBPB.val(), r.Stopped, r.Steps
	}
	sort.Slice(s.Trials, func(i, j int) bool { return s.Trials[i].N < s.Trials[j].N })
	for _, t := range s.Trials {
		switch t.Status {
		case EvStarted:
			s.Running++
		case EvRejected:
			s.Done++
			s.Rejected++
		case EvFailed:
			s.Done++
			s.Failed++
		case EvFinished:
			s.Done++
			if t.Stopped {
				s.Hurdled++
			}
		}
	}
	return s
}

// Trial returns trial n, or nil.
func (s *Summary) Trial(n int) *TrialInfo {
	for _, t := range s.Trials {
		if t.N == n {
			return t
		}
	}
	return nil
}

// Ranked returns the trials that trained to the end, best held-out bpb
// first.
func (s *Summary) Ranked() []*TrialInfo {
	var out []*TrialInfo
	for _, t := range s.Trials {
		if t.Status == EvFinished && !t.Stopped && !math.IsNaN(t.BPB) {
			out = append(out, t)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].BPB < out[j].BPB })
	return out
}

// Best is the trial with the lowest held-out bpb among those that trained
// to the end, or nil.
func (s *Summary) Best() *TrialInfo {
	if r := s.Ranked(); len(r) > 0 {
		return r[0]
	}
	return nil
}

// plotTrials converts the trials for the Pareto plot.
func (s *Summary) plotTrials() []plot.Trial {
	var out []plot.Trial
	for _, t := range s.Trials {
		st := ""
		switch {
		case t.Status == EvFinished && t.Stopped:
			st = "hurdle"
		case t.Status == EvFinished:
			st = "ok"
		case t.Status == EvRejected:
			st = "rejected"
		case t.Status == EvFailed:
			st = "failed"
		default:
			continue
		}
		if math.IsNaN(t.StepTime) {
			continue
		}
		out = append(out, plot.Trial{Label: fmt.Sprintf("#%d", t.N), StepTime: t.StepTime, BPB: t.BPB, Status: st, Baseline: t.N == 0})
	}
	return out
}

// Front returns the Pareto front of held-out bpb against step time.
func (s *Summary) Front() []*TrialInfo {
	pts := s.plotTrials()
	var out []*TrialInfo
	for _, i := range plot.ParetoFront(pts) {
		var n int
		fmt.Sscanf(pts[i].Label, "#%d", &n)
		out = append(out, s.Trial(n))
	}
	return out
}

// WritePlot draws every trial's held-out bpb against its step time.
func (s *Summary) WritePlot(path string) error {
	limit := 0.0
	if b := s.Trial(0); b != nil && !math.IsNaN(b.StepTime) && s.Settings != nil {
		limit = b.StepTime * (1 + s.Settings.Slack)
	}
	title := "bfc search"
	if s.Settings != nil {
		title = fmt.Sprintf("bfc search %s (%s, seed %d)", s.Settings.SpaceName, s.Settings.Strategy, s.Settings.Seed)
	}
	return plot.ParetoFile(s.plotTrials(), limit, title, path)
}

// Markdown writes the report: counts, the top candidates beside the
// baseline, the Pareto front and the top blocks' text.
func (s *Summary) Markdown(top int) string {
	var b strings.Builder
	set := s.Settings
	if set == nil {
		set = &Settings{}
	}
	fmt.Fprintf(&b, "# bfc search: %s\n\n", set.SpaceName)
	fmt.Fprintf(&b, "Space `%s`, strategy %s, seed %d, %s per trial, budget %s, %d worker(s) × %d thread(s), slack %g, hurdle %g",
		set.Space, set.Strategy, set.Seed, set.Trial, set.Budget, set.Workers, set.Threads, set.Slack, set.Hurdle)
	if set.Strategy == Evolution {
		fmt.Fprintf(&b, ", population %d, tournament %d", set.Population, set.Sample)
		if set.Init != "" {
			fmt.Fprintf(&b, ", initial population %s", set.Init)
		}
	}
	fmt.Fprintf(&b, ".")
	if set.CPU != "" {
		fmt.Fprintf(&b, " CPU: %s.", set.CPU)
	}
	fmt.Fprintf(&b, "\n\n%d trials done in %s: %d trained (%d of them stopped at the hurdle), %d rejected for their step time, %d failed",
		s.Done, fmtSeconds(s.Elapsed), s.Done-s.Rejected-s.Failed, s.Hurdled, s.Rejected, s.Failed)
	if s.Running > 0 {
		fmt.Fprintf(&b, "; %d in flight", s.Running)
	}
	b.WriteString(".\n\n")
	base := s.Trial(0)
	rows := s.Ranked()
	if len(rows) > top {
		rows = rows[:top]
	}
	hasBase := false
	for _, r := range rows {
		hasBase = hasBase || r.N == 0
	}
	if base != nil && !hasBase {
		rows = append(rows, base)
	}
	b.WriteString("| trial | held-out bpb | vs baseline | step time | steps | params | activated | origin |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		vs := ""
		if base != nil && base.Status == EvFinished && !math.IsNaN(base.BPB) && !math.IsNaN(r.BPB) {
			vs = fmt.Sprintf("%+.1f %%", (r.BPB/base.BPB-1)*100)
		}
		name := fmt.Sprintf("#%d", r.N)
		if r.N == 0 {
			name += " (baseline)"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %d | %d | %s |\n", name, fmtBPB(r.BPB), vs, fmtMS(r.StepTime), r.Steps, r.Params, r.Activated, strings.ReplaceAll(r.Origin, "|", "/"))
	}
	if front := s.Front(); len(front) > 0 {
		b.WriteString("\nPareto front (held-out bpb against step time, both lower is better): ")
		var parts []string
		for _, t := range front {
			parts = append(parts, fmt.Sprintf("#%d (%s bpb, %s)", t.N, fmtBPB(t.BPB), fmtMS(t.StepTime)))
		}
		b.WriteString(strings.Join(parts, ", ") + ".\n")
	}
	var failed []string
	for _, t := range s.Trials {
		if t.Status == EvFailed {
			failed = append(failed, fmt.Sprintf("- #%d: %s", t.N, firstLine(t.Reason)))
		}
	}
	if len(failed) > 0 {
		b.WriteString("\nFailed trials:\n\n" + strings.Join(failed, "\n") + "\n")
	}
	show := s.Ranked()
	if len(show) > 3 {
		show = show[:3]
	}
	if base != nil {
		found := false
		for _, t := range show {
			found = found || t.N == 0
		}
		if !found {
			show = append(show, base)
		}
	}
	for _, t := range show {
		title := fmt.Sprintf("#%d", t.N)
		if t.N == 0 {
			title += ", the baseline"
		}
		fmt.Fprintf(&b, "\n## %s: %s bpb, %s per step\n\n```bf\n%s```\n", title, fmtBPB(t.BPB), fmtMS(t.StepTime), t.Candidate)
	}
	return b.String()
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func fmtBPB(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%.3f", x)
}

func fmtMS(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%.1f ms", x*1e3)
}

func fmtSeconds(x float64) string {
	return fmt.Sprintf("%dm%02ds", int(x)/60, int(x)%60)
}

// BestFile is the best candidate as a .bf file with a comment saying where
// it came from.
func (s *Summary) BestFile() (string, error) {
	t := s.Best()
	if t == nil {
		return "", fmt.Errorf("no trial trained to the end yet")
	}
	set := s.Settings
	if set == nil {
		set = &Settings{}
	}
	head := fmt.Sprintf("// Found by bfc search: trial %d of search %s (%s, %s, seed %d):\n// %.3f held-out bits per byte after %s of training, %.1f ms per step.\n\n",
		t.N, set.SpaceName, filepath.Base(set.Space), set.Strategy, set.Seed, t.BPB, set.Trial, t.StepTime*1e3)
	return head + t.Candidate, nil
}

// WriteFileAtomic writes data to path through a temporary file.
func WriteFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
