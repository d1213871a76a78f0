package search

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/bfcdev/bfc/compiler/check"
)

// Initial populations of evolution: mutants of the baseline (as Primer
// seeds its search) or random candidates (as Real et al.).
const (
	InitBaseline = "baseline"
	InitRandom   = "random"
)

// Strategies.
const (
	Evolution    = "evolution"
	RandomSearch = "random"
)

// Config sets up a search.
type Config struct {
	Strategy   string        // Evolution or RandomSearch
	Seed       uint64        // proposals are a function of the seed and the results so far
	Population int           // aging evolution's population size
	Init       string        // evolution's initial population: InitBaseline or InitRandom
	Sample     int           // tournament size
	Budget     time.Duration // total wall clock; trials start while a whole trial still fits
	Trial      time.Duration // training wall clock per trial
	Workers    int           // trials at once
	Threads    int           // threads per trial (recorded; the evaluator applies them)
	Slack      float64       // a candidate's step may be this fraction slower than the baseline's
	Hurdle     float64       // fraction of a trial at which clearly worse trials stop (0: off)
	MaxTrials  int           // stop after this many trials (0: the budget alone)
	Settings   Settings      // recorded in the journal; the fields above are copied in
	Progress   io.Writer     // a line per event (nil: none)
	// Ended, when set, is called after each trial's last record is
	// written, with every record so far (to redraw reports).
	Ended func(recs []*Record)
}

// Trial is one candidate being evaluated.
type Trial struct {
	N         int
	Genome    *Genome
	Text      string
	Origin    string
	Parent    int // -1: none
	Params    int64
	Activated int64
	// Threshold is the held-out bpb at the hurdle above which the trial
	// stops early (NaN: no hurdle).
	Threshold float64
	Limit     float64 // step-time limit in seconds (+Inf: none)
}

// Outcome is what training a candidate gave.
type Outcome struct {
	BPB       float64 // held-out bits per byte at the end (the hurdle's when stopped there)
	HurdleBPB float64 // held-out bpb at the hurdle (NaN: none)
	Stopped   bool    // stopped at the hurdle
	Steps     int
	Tokens    int64
	Seconds   float64
}

// Evaluator measures and trains candidates. Errors are recorded as the
// trial's failure and never stop the search; a cancelled context leaves the
// trial to be run again on resume.
type Evaluator interface {
	// StepTime returns the median wall-clock time of one training step.
	StepTime(ctx context.Context, t *Trial) (float64, error)
	// Train trains the candidate for the trial's budget, stopping at the
	// hurdle when its held-out bpb there is above t.Threshold.
	Train(ctx context.Context, t *Trial) (*Outcome, error)
}

// ErrInterrupted is returned when the context ends the search.
var ErrInterrupted = errors.New("search interrupted")

// member is one trained candidate in the population.
type member struct {
	trial   int
	genome  *Genome
	fitness float64 // held-out bpb (the hurdle's for trials stopped there)
	hurdle  float64 // held-out bpb at the hurdle (NaN: none)
}

// state is everything a proposal depends on: rebuilt from the journal on
// resume by replaying its records in order.
type state struct {
	space    *check.Space
	cfg      *Config
	next     int
	seen     map[string]int
	pop      []member // oldest first
	trials   map[int]*Trial
	baseStep float64 // the baseline's step time (0: not measured)
	invalid  int     // proposals the checker refused
	lastErr  string
}

func newState(s *check.Space, cfg *Config) *state {
	return &state{space: s, cfg: cfg, seen: map[string]int{}, trials: map[int]*Trial{}}
}

// maxAttempts bounds the proposals tried for one trial; after tryStrategy
// of them, random candidates are drawn instead.
const (
	maxAttempts = 600
	tryStrategy = 200
)

// propose returns the next trial's candidate. It is a pure function of the
// seed, the trial number and the state.
func (st *state) propose() (*Trial, error) {
	n := st.next
	rng := rand.New(rand.NewPCG(st.cfg.Seed, uint64(n)*0x9e3779b97f4a7c15+0x632be59bd9b4e019))
	t := &Trial{N: n, Parent: -1, Threshold: math.NaN(), Limit: math.Inf(1)}
	for attempt := 0; attempt < maxAttempts; attempt++ {
		var g *Genome
		switch {
		case n == 0:
			g, t.Origin = Baseline(st.space), "baseline"
		case attempt >= tryStrategy || st.cfg.Strategy == RandomSearch:
			g, t.Origin = Random(st.space, rng), "random"
		case (len(st.pop) < st.cfg.Population || len(st.pop) == 0) && st.cfg.Init == InitRandom:
			g, t.Origin = Random(st.space, rng), "initial: random"
		case len(st.pop) < st.cfg.Population || len(st.pop) == 0:
			// The initial population: the baseline changed by one to
			// three mutations.
			g = Project(st.space, Baseline(st.space), rng)
			var descs []string
			for range 1 + rng.IntN(3) {
				var d string
				g, d = Mutate(st.space, g, rng)
				descs = append(descs, d)
			}
			t.Origin, t.Parent = "initial: "+strings.Join(descs, "; "), 0
		default:
			// Tournament: the best of Sample members drawn without
			// replacement, mutated once.
			idx := rng.Perm(len(st.pop))[:min(st.cfg.Sample, len(st.pop))]
			best := st.pop[idx[0]]
			for _, i := range idx[1:] {
				if st.pop[i].fitness < best.fitness {
					best = st.pop[i]
				}
			}
			var d string
			g, d = Mutate(st.space, best.genome, rng)
			t.Origin, t.Parent = fmt.Sprintf("mutation of #%d: %s", best.trial, d), best.trial
		}
		if why := InSpace(st.space, g); why != "" && n != 0 {
			return nil, fmt.Errorf("internal error: trial %d's candidate is outside the space: %s", n, why)
		}
		text := Render(st.space, g)
		if _, dup := st.seen[text]; dup {
			if n == 0 {
				break
			}
			continue
		}
		ch, msg := Check(text)
		if ch == nil {
			st.invalid++
			st.lastErr = msg
			if n == 0 {
				return nil, fmt.Errorf("the baseline does not pass bfc check when written as a candidate: %s", msg)
			}
			continue
		}
		t.Genome, t.Text, t.Params, t.Activated = g, text, ch.Params, ch.Activated
		if st.cfg.Hurdle > 0 {
			t.Threshold = st.hurdleThreshold()
		}
		st.next++
		st.seen[text] = n
		st.trials[n] = t
		return t, nil
	}
	why := ""
	if st.lastErr != "" {
		why = "; the last refusal: " + st.lastErr
	}
	return nil, fmt.Errorf("no new candidate after %d tries (%d seen, %d refused by bfc check): the space is exhausted%s", maxAttempts, len(st.seen), st.invalid, why)
}

// minHurdle is the number of population members with a hurdle value the
// hurdle needs before it stops anything.
const minHurdle = 3

// hurdleThreshold is the median held-out bpb at the hurdle of the
// population (NaN when too few have one).
func (st *state) hurdleThreshold() float64 {
	var v []float64
	for _, m := range st.pop {
		if !math.IsNaN(m.hurdle) {
			v = append(v, m.hurdle)
		}
	}
	if len(v) < minHurdle {
		return math.NaN()
	}
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// finish adds a trained trial to the population, retiring the oldest.
func (st *state) finish(n int, o *Outcome) {
	t := st.trials[n]
	if t == nil {
		return
	}
	st.pop = append(st.pop, member{trial: n, genome: t.Genome, fitness: o.BPB, hurdle: o.HurdleBPB})
	if st.cfg.Strategy == Evolution && len(st.pop) > st.cfg.Population {
		st.pop = st.pop[1:]
	}
}

// SpaceHash identifies a space by what its candidates can be.
func SpaceHash(s *check.Space) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00", Render(s, Baseline(s)))
	fmt.Fprintf(h, "%v %v %d %d %v %v\x00", s.Blocks, s.D, s.MinSub, s.MaxSub, s.Kinds, s.PerLayer)
	for _, k := range check.SpaceKeys {
		fmt.Fprintf(h, "%s=%q\x00", k, s.Attrs[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// event is a worker's report.
type event struct {
	trial    *Trial
	measured bool // a step time (the trial goes on)
	step     float64
	done     bool
	rec      *Record // the record that ends the trial (nil: interrupted)
}

// Run searches space s, appending to the journal at path (a new file, or
// with resume one that a search of the same space and settings wrote). It
// returns the journal's records when the budget is spent, ErrInterrupted
// when ctx ends it.
func Run(ctx context.Context, s *check.Space, cfg Config, path string, resume bool, ev Evaluator) ([]*Record, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	set := cfg.Settings
	set.SpaceName, set.SpaceHash = s.Name, SpaceHash(s)
	set.Strategy, set.Seed, set.Population, set.Sample = cfg.Strategy, cfg.Seed, cfg.Population, cfg.Sample
	if cfg.Strategy == Evolution {
		set.Init = cfg.Init
	}
	set.Trial, set.Budget, set.Slack, set.Hurdle = cfg.Trial.String(), cfg.Budget.String(), cfg.Slack, cfg.Hurdle
	set.Workers, set.Threads = cfg.Workers, cfg.Threads

	st := newState(s, &cfg)
	var recs []*Record
	var pending []*Trial
	elapsed0 := 0.0
	if resume {
		var torn bool
		var err error
		recs, torn, err = ReadJournal(path)
		if err != nil {
			return nil, err
		}
		if len(recs) == 0 {
			return nil, fmt.Errorf("-resume %s: the journal is empty; start a new search without -resume", path)
		}
		if err := sameSettings(recs[0].Settings, &set); err != nil {
			return nil, fmt.Errorf("-resume %s: %w", path, err)
		}
		if torn {
			cfg.printf("search: %s: dropped a last record cut short by a crash\n", path)
			if err := truncateTorn(path, recs); err != nil {
				return nil, err
			}
		}
		pending, elapsed0, err = st.replay(path, recs)
		if err != nil {
			return nil, err
		}
	} else if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
		return nil, fmt.Errorf("journal %s already exists: continue that search with -resume, or choose another -journal", path)
	}
	j, err := openJournal(path)
	if err != nil {
		return nil, err
	}
	defer j.close()
	start := time.Now().Add(-time.Duration(elapsed0 * float64(time.Second)))
	elapsed := func() float64 { return time.Since(start).Seconds() }
	write := func(r *Record) error {
		r.Elapsed = elapsed()
		recs = append(recs, r)
		return j.write(r)
	}
	if err := write(&Record{Event: EvSearch, Settings: &set}); err != nil {
		return nil, err
	}
	if len(pending) > 0 {
		cfg.printf("search: resuming: %d trials done, %d to run again (they were in flight)\n", len(st.trials)-len(pending), len(pending))
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := make(chan event)
	running := 0
	started := len(st.trials)
	limit := func() float64 {
		if st.baseStep > 0 {
			return st.baseStep * (1 + cfg.Slack)
		}
		return math.Inf(1)
	}
	launch := func(t *Trial) {
		running++
		t.Limit = limit()
		if t.N == 0 {
			t.Limit = math.Inf(1)
		}
		go func() { runTrial(ctx, ev, t, events) }()
	}
	var exhausted error
	canLaunch := func() bool {
		if ctx.Err() != nil || running >= cfg.Workers {
			return false
		}
		if st.baseStep == 0 && running > 0 {
			return false // every other trial needs the baseline's step time
		}
		if len(pending) > 0 {
			return true
		}
		if exhausted != nil || cfg.MaxTrials > 0 && started >= cfg.MaxTrials {
			return false
		}
		return cfg.Budget.Seconds()-elapsed() >= cfg.Trial.Seconds()
	}
	var runErr error
	for {
		for runErr == nil && canLaunch() {
			var t *Trial
			if len(pending) > 0 {
				t, pending = pending[0], pending[1:]
			} else {
				t, err = st.propose()
				if err != nil {
					exhausted = err
					cfg.printf("search: %v\n", err)
					break
				}
				p := &t.Parent
				if t.Parent < 0 {
					p = nil
				}
				rec := &Record{Event: EvStarted, Trial: t.N, Candidate: t.Text, Genome: t.Genome, Origin: t.Origin, Parent: p,
					Params: t.Params, Activated: t.Activated}
				if !math.IsNaN(t.Threshold) {
					rec.Threshold = num(t.Threshold)
				}
				if runErr = write(rec); runErr != nil {
					break
				}
				started++
			}
			launch(t)
			cfg.progress(st, recs, running, elapsed())
		}
		if running == 0 {
			break
		}
		e := <-events
		switch {
		case e.measured:
			if e.trial.N == 0 {
				st.baseStep = e.step
			}
			r := &Record{Event: EvMeasured, Trial: e.trial.N, StepTime: num(e.step)}
			if !math.IsInf(e.trial.Limit, 1) {
				r.Limit = num(e.trial.Limit)
			}
			if err := write(r); err != nil && runErr == nil {
				runErr = err
				cancel()
			}
		case e.done:
			running--
			if e.rec == nil {
				continue // interrupted: it runs again on resume
			}
			if e.rec.Event == EvFinished {
				st.finish(e.trial.N, outcomeOf(e.rec))
			}
			if err := write(e.rec); err != nil && runErr == nil {
				runErr = err
				cancel()
			}
			if e.trial.N == 0 && e.rec.Event != EvFinished && st.baseStep == 0 {
				if runErr == nil {
					runErr = fmt.Errorf("the baseline could not be measured (%s); the search needs its step time", e.rec.Reason)
				}
				cancel()
			}
			cfg.progress(st, recs, running, elapsed())
			if cfg.Ended != nil {
				cfg.Ended(recs)
			}
		}
	}
	if runErr != nil {
		return recs, runErr
	}
	if ctx.Err() != nil {
		return recs, ErrInterrupted
	}
	return recs, nil
}

func outcomeOf(r *Record) *Outcome {
	return &Outcome{BPB: r.BPB.val(), HurdleBPB: r.HurdleBPB.val(), Stopped: r.Stopped, Steps: r.Steps, Tokens: r.Tokens, Seconds: r.Seconds}
}

// runTrial measures, checks the step-time limit and trains one trial,
// reporting on events.
func runTrial(ctx context.Context, ev Evaluator, t *Trial, events chan<- event) {
	end := func(r *Record) {
		if r != nil {
			r.Trial = t.N
		}
		events <- event{trial: t, done: true, rec: r}
	}
	step, err := safeStep(ctx, ev, t)
	if ctx.Err() != nil {
		end(nil)
		return
	}
	if err != nil {
		end(&Record{Event: EvFailed, Reason: "measuring the step time: " + err.Error()})
		return
	}
	events <- event{trial: t, measured: true, step: step}
	if step > t.Limit {
		end(&Record{Event: EvRejected, StepTime: num(step), Limit: num(t.Limit),
			Reason: fmt.Sprintf("step %.1f ms is over the limit %.1f ms", step*1e3, t.Limit*1e3)})
		return
	}
	o, err := safeTrain(ctx, ev, t)
	if ctx.Err() != nil {
		end(nil)
		return
	}
	switch {
	case err != nil:
		end(&Record{Event: EvFailed, StepTime: num(step), Reason: err.Error()})
	case math.IsNaN(o.BPB) || math.IsInf(o.BPB, 0):
		end(&Record{Event: EvFailed, StepTime: num(step), Steps: o.Steps, Reason: fmt.Sprintf("held-out bpb is %v after %d steps (diverged)", o.BPB, o.Steps)})
	default:
		r := &Record{Event: EvFinished, StepTime: num(step), BPB: num(o.BPB), Stopped: o.Stopped,
			Steps: o.Steps, Tokens: o.Tokens, Seconds: o.Seconds}
		if !math.IsNaN(o.HurdleBPB) {
			r.HurdleBPB = num(o.HurdleBPB)
		}
		end(r)
	}
}

// safeStep and safeTrain turn an evaluator's panic into the trial's error.
func safeStep(ctx context.Context, ev Evaluator, t *Trial) (step float64, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return ev.StepTime(ctx, t)
}

func safeTrain(ctx context.Context, ev Evaluator, t *Trial) (o *Outcome, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return ev.Train(ctx, t)
}

// replay rebuilds the state from a journal's records; it returns the trials
// that started without ending (to run again, in order) and the search's
// elapsed time.
func (st *state) replay(path string, recs []*Record) ([]*Trial, float64, error) {
	open := map[int]*Trial{}
	var order []int
	elapsed := 0.0
	for i, r := range recs {
		elapsed = max(elapsed, r.Elapsed)
		switch r.Event {
		case EvStarted:
			if r.Trial != st.next {
				return nil, 0, fmt.Errorf("%s:%d: trial %d starts where trial %d was expected; the journal was edited", path, i+1, r.Trial, st.next)
			}
			t, err := st.propose()
			if err != nil {
				return nil, 0, fmt.Errorf("%s:%d: %w", path, i+1, err)
			}
			if t.Text != r.Candidate {
				return nil, 0, fmt.Errorf("%s:%d: trial %d was another candidate than this space and seed propose now; the journal belongs to another search (or bfc's proposals changed): start a new journal", path, i+1, r.Trial)
			}
			open[t.N] = t
			order = append(order, t.N)
		case EvMeasured:
			if r.Trial == 0 {
				st.baseStep = r.StepTime.val()
			}
		case EvRejected, EvFinished, EvFailed:
			if open[r.Trial] == nil {
				return nil, 0, fmt.Errorf("%s:%d: trial %d ends without having started", path, i+1, r.Trial)
			}
			delete(open, r.Trial)
			if r.Event == EvFinished {
				st.finish(r.Trial, outcomeOf(r))
			}
		}
	}
	var pending []*Trial
	for _, n := range order {
		if t := open[n]; t != nil {
			pending = append(pending, t)
		}
	}
	if st.baseStep == 0 {
		// The baseline's measurement was lost: measure it again first.
		if t := open[0]; t == nil && len(st.trials) > 0 {
			pending = append([]*Trial{st.trials[0]}, pending...)
		}
	}
	return pending, elapsed, nil
}

// truncateTorn rewrites the journal without its torn last line.
func truncateTorn(path string, recs []*Record) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	cut := 0
	for range recs {
		i := slices.Index(data[cut:], '\n')
		if i < 0 {
			break
		}
		cut += i + 1
	}
	return os.Truncate(path, int64(cut))
}

// sameSettings reports how a resumed search's settings differ from the
// journal's.
func sameSettings(old, now *Settings) error {
	if old == nil {
		return errors.New("the journal's first record has no settings")
	}
	var diffs []string
	cmp := func(name string, a, b any) {
		if fmt.Sprint(a) != fmt.Sprint(b) {
			diffs = append(diffs, fmt.Sprintf("%s %v (journal) vs %v (now)", name, a, b))
		}
	}
	cmp("space", old.SpaceName, now.SpaceName)
	cmp("space contents", old.SpaceHash, now.SpaceHash)
	cmp("-strategy", old.Strategy, now.Strategy)
	cmp("-seed", old.Seed, now.Seed)
	cmp("-population", old.Population, now.Population)
	cmp("-init", old.Init, now.Init)
	cmp("-sample", old.Sample, now.Sample)
	cmp("-trial", old.Trial, now.Trial)
	cmp("-slack", old.Slack, now.Slack)
	cmp("-hurdle", old.Hurdle, now.Hurdle)
	cmp("corpus", old.Corpus, now.Corpus)
	cmp("trainer flags", old.Extra, now.Extra)
	cmp("precision", orFloat32(old.Precision), orFloat32(now.Precision))
	if len(diffs) > 0 {
		return fmt.Errorf("the search was started with other settings: %s; resume with the same ones (only -budget, -workers and the output flags may change)", strings.Join(diffs, ", "))
	}
	return nil
}

// Validate checks the settings, naming the flag of a bad one.
func (c *Config) Validate() error {
	switch {
	case c.Strategy != Evolution && c.Strategy != RandomSearch:
		return fmt.Errorf("-strategy %q: want evolution or random", c.Strategy)
	case c.Init == "":
		c.Init = InitBaseline
		return c.Validate()
	case c.Init != InitBaseline && c.Init != InitRandom:
		return fmt.Errorf("-init %q: want baseline or random", c.Init)
	case c.Population < 2:
		return fmt.Errorf("-population %d: must be at least 2", c.Population)
	case c.Sample < 1 || c.Sample > c.Population:
		return fmt.Errorf("-sample %d: must be between 1 and -population (%d)", c.Sample, c.Population)
	case c.Trial <= 0:
		return fmt.Errorf("-trial %v: must be positive", c.Trial)
	case c.Budget < c.Trial:
		return fmt.Errorf("-budget %v: must be at least one -trial (%v)", c.Budget, c.Trial)
	case c.Workers < 1:
		return fmt.Errorf("-workers %d: must be at least 1", c.Workers)
	case c.Slack < 0 || math.IsNaN(c.Slack):
		return fmt.Errorf("-slack %v: must be 0 or more (0.1 lets a step be 10%% slower than the baseline's)", c.Slack)
	case c.Hurdle < 0 || c.Hurdle >= 1 || math.IsNaN(c.Hurdle):
		return fmt.Errorf("-hurdle %v: must be 0 (off) or a fraction of a trial below 1", c.Hurdle)
	}
	return nil
}

func (c *Config) printf(format string, args ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, format, args...)
	}
}

// progress prints the search's state in one line.
func (c *Config) progress(st *state, recs []*Record, running int, elapsed float64) {
	if c.Progress == nil {
		return
	}
	sum := Summarise(recs)
	best := "none yet"
	if b := sum.Best(); b != nil {
		best = fmt.Sprintf("#%d %.3f bpb at %.1f ms/step", b.N, b.BPB, b.StepTime*1e3)
	}
	base := ""
	if b := sum.Trial(0); b != nil && b.Status == EvFinished {
		base = fmt.Sprintf(" (baseline %.3f, %.1f ms)", b.BPB, b.StepTime*1e3)
	}
	left := time.Duration((c.Budget.Seconds() - elapsed) * float64(time.Second)).Round(time.Second)
	if left < 0 {
		left = 0
	}
	fmt.Fprintf(c.Progress, "search: %d done (%d rejected, %d failed, %d stopped at the hurdle), %d running; best %s%s; %s left\n",
		sum.Done, sum.Rejected, sum.Failed, sum.Hurdled, running, best, base, left)
}

// orFloat32 is a journal's precision, float32 when unset.
func orFloat32(p string) string {
	if p == "" {
		return "float32"
	}
	return p
}
