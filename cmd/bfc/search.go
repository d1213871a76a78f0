package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bfcdev/bfc/compiler"
	"github.com/bfcdev/bfc/compiler/check"
	"github.com/bfcdev/bfc/runtime/train"
	"github.com/bfcdev/bfc/search"
)

func runSearch(e *env, args []string) int {
	fs := newFlags(e, "search")
	budget := fs.Duration("budget", time.Hour, "total wall clock of the search; trials start while a whole -trial still fits")
	trial := fs.Duration("trial", 2*time.Minute, "training wall clock of each trial")
	workers := fs.Int("workers", 1, "trials at once; the cores are shared out between them")
	threadsFlag := fs.Int("threads", 0, "threads per trial (0: the cores shared out between the workers)")
	seed := fs.Uint64("seed", 1, "seed of the proposals (and of every trial's training)")
	journal := fs.String("journal", "", "append-only journal of the search (default: SPACE's base name + .journal.jsonl)")
	resume := fs.Bool("resume", false, "continue the search in -journal")
	out := fs.String("out", "", "write the best model here as a .bf file (default: SPACE's base name + .best.bf)")
	strategy := fs.String("strategy", search.Evolution, "evolution (aging evolution) or random")
	slack := fs.Float64("slack", 0.1, "reject a candidate whose step is more than this fraction slower than the baseline's")
	hurdle := fs.Float64("hurdle", 0.25, "at this fraction of a trial, stop a trial whose held-out bpb is above the population's median there (0: off)")
	population := fs.Int("population", 8, "aging evolution's population")
	sample := fs.Int("sample", 4, "aging evolution's tournament size")
	initPop := fs.String("init", search.InitBaseline, "evolution's initial population: baseline (mutants of the baseline) or random (random candidates)")
	maxTrials := fs.Int("max-trials", 0, "stop after this many trials (0: the budget decides)")
	measure := fs.Int("measure-steps", 8, "timed training steps per candidate (after 3 warm-up steps); the median is its step time")
	spaceName := fs.String("space", "", "the search declaration to run when the file has several")
	report := fs.String("report", "", "redraw the report, plot and best model from this journal and exit")
	precision := precisionFlag(fs)
	trainerFlags := fs.String("trainer-flags", "", "flags added to every trial's trainer, as '-lr 2e-3 -batch 8' (see bfc train FILE.bf -help)")
	if code, ok := parseFlags(fs, e, args); !ok {
		return code
	}
	if *report != "" {
		return searchReport(e, *report, *out)
	}
	if !checkPrecision(e, "search", *precision) {
		return exitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(e.stderr, "bfc search: want a .bf file with a search declaration")
		fs.Usage()
		return exitUsage
	}
	file := fs.Arg(0)
	corpus := fs.Args()[1:]
	res, diags := compiler.Check(compiler.Options{}, file)
	if len(diags) > 0 {
		printDiags(e.stderr, diags, 10)
		return exitError
	}
	var sp *check.Space
	var names []string
	for _, s := range res.Spaces {
		names = append(names, s.Name)
		if *spaceName == "" && len(res.Spaces) == 1 || s.Name == *spaceName {
			sp = s
		}
	}
	if sp == nil {
		switch {
		case len(res.Spaces) == 0:
			fmt.Fprintf(e.stderr, "bfc search: %s declares no search; add search NAME { baseline MODEL ... } (see docs/language.md)\n", file)
		case *spaceName == "":
			fmt.Fprintf(e.stderr, "bfc search: %s declares several searches (%s); choose one with -space\n", file, strings.Join(names, ", "))
		default:
			fmt.Fprintf(e.stderr, "bfc search: %s declares no search named %q (it has %s)\n", file, *spaceName, strings.Join(names, ", "))
		}
		return exitUsage
	}
	probe := search.Config{Strategy: *strategy, Init: *initPop, Population: *population, Sample: *sample, Trial: *trial, Budget: *budget,
		Workers: *workers, Slack: *slack, Hurdle: *hurdle}
	if err := probe.Validate(); err != nil {
		fmt.Fprintf(e.stderr, "bfc search: %v\n", err)
		return exitUsage
	}
	if ok, refusals := search.Probe(sp, 200, *seed); ok == 0 {
		fmt.Fprintf(e.stderr, "%s: %s: no candidate of search %s passes bfc check (none of 200 drawn at random)\n", sp.Pos, check.EmptySpace, sp.Name)
		type kv struct {
			msg string
			n   int
		}
		var list []kv
		for m, n := range refusals {
			list = append(list, kv{m, n})
		}
		sort.Slice(list, func(i, j int) bool {
			return list[i].n > list[j].n || list[i].n == list[j].n && list[i].msg < list[j].msg
		})
		for i, r := range list {
			if i == 3 {
				break
			}
			fmt.Fprintf(e.stderr, "\t%d of 200: %s\n", r.n, r.msg)
		}
		return exitError
	}
	extra, err := splitFlags(*trainerFlags)
	if err != nil {
		fmt.Fprintf(e.stderr, "bfc search: -trainer-flags: %v\n", err)
		return exitUsage
	}
	for _, f := range extra {
		for _, own := range []string{"time", "steps", "result", "ckpt", "log", "plot", "sample", "seed", "hurdle", "hurdle-bpb", "measure-steps", "measure-warmup", "resume", "eval-every"} {
			if strings.TrimLeft(strings.SplitN(f, "=", 2)[0], "-") == own {
				fmt.Fprintf(e.stderr, "bfc search: -trainer-flags: %s is set by bfc search itself (use -trial, -seed, -hurdle)\n", f)
				return exitUsage
			}
		}
	}
	if *measure < 1 {
		fmt.Fprintf(e.stderr, "bfc search: -measure-steps %d: must be at least 1\n", *measure)
		return exitUsage
	}

	base := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	if *journal == "" {
		*journal = base + ".journal.jsonl"
	}
	if *out == "" {
		*out = base + ".best.bf"
	}
	stem := strings.TrimSuffix(strings.TrimSuffix(*journal, ".jsonl"), ".journal")
	reportPath, plotPath, trialsDir := stem+".report.md", stem+".png", stem+".trials"
	threads := max(1, runtime.NumCPU()/max(1, *workers))
	if *threadsFlag < 0 {
		fmt.Fprintf(e.stderr, "bfc search: -threads %d: must be 0 (share the cores) or more\n", *threadsFlag)
		return exitUsage
	} else if *threadsFlag > 0 {
		threads = *threadsFlag
	}
	abs := make([]string, len(corpus))
	for i, c := range corpus {
		if _, err := os.Stat(c); err != nil {
			fmt.Fprintf(e.stderr, "bfc search: corpus: %v\n", err)
			return exitUsage
		}
		abs[i], _ = filepath.Abs(c)
	}
	cfg := search.Config{
		Strategy: *strategy, Init: *initPop, Seed: *seed, Population: *population, Sample: *sample,
		Budget: *budget, Trial: *trial, Workers: *workers, Threads: threads,
		Slack: *slack, Hurdle: *hurdle, MaxTrials: *maxTrials, Progress: e.stdout,
		Settings: search.Settings{Space: file, Corpus: abs, CPU: cpuName(), Extra: extra, Precision: strings.TrimPrefix(*precision, "float32")},
	}
	cfg.Ended = func(recs []*search.Record) {
		writeSearchOutputs(e, search.Summarise(recs), reportPath, plotPath, *out, false)
	}
	if abs, err := filepath.Abs(trialsDir); err == nil {
		trialsDir = abs
	}
	if err := os.MkdirAll(trialsDir, 0o755); err != nil {
		fmt.Fprintf(e.stderr, "bfc search: %v\n", err)
		return exitError
	}
	ev := &trialRunner{e: e, dir: trialsDir, precision: *precision, corpus: abs, threads: threads, trial: *trial, hurdle: *hurdle,
		seed: *seed, measure: *measure, extra: extra}
	fmt.Fprintf(e.stdout, "bfc search: %s of %s, %s, %s per trial, budget %s, %d worker(s) × %d thread(s) on %s\n",
		sp.Name, file, *strategy, *trial, *budget, *workers, threads, orUnknown(cfg.Settings.CPU))
	fmt.Fprintf(e.stdout, "journal %s, report %s, plot %s, best model %s\n", *journal, reportPath, plotPath, *out)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	recs, err := search.Run(ctx, sp, cfg, *journal, *resume, ev)
	stop()
	sum := search.Summarise(recs)
	if len(recs) > 0 {
		writeSearchOutputs(e, sum, reportPath, plotPath, *out, true)
	}
	if errors.Is(err, search.ErrInterrupted) {
		fmt.Fprintf(e.stdout, "bfc search: stopped; %d trials kept in %s (the %d in flight run again on resume)\nresume with:\n  %s\n",
			sum.Done, *journal, sum.Running, resumeCommand(args, *journal))
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "bfc search: %v\n", err)
		return exitError
	}
	fmt.Fprintf(e.stdout, "bfc search: done: %d trials (%d rejected, %d failed, %d stopped at the hurdle) in %s\n",
		sum.Done, sum.Rejected, sum.Failed, sum.Hurdled, time.Duration(sum.Elapsed*float64(time.Second)).Round(time.Second))
	if b := sum.Best(); b != nil {
		line := fmt.Sprintf("best: trial %d, %.3f held-out bpb, %.1f ms per step", b.N, b.BPB, b.StepTime*1e3)
		if base := sum.Trial(0); base != nil && base.Status == search.EvFinished && !math.IsNaN(base.BPB) {
			line += fmt.Sprintf("; baseline %.3f bpb, %.1f ms", base.BPB, base.StepTime*1e3)
		}
		fmt.Fprintf(e.stdout, "%s\nbest model: %s (bfc train %s)\n", line, *out, *out)
	}
	return exitOK
}

// writeSearchOutputs writes the report, the plot and the best model.
func writeSearchOutputs(e *env, sum *search.Summary, reportPath, plotPath, out string, loud bool) {
	warn := func(what string, err error) {
		if loud {
			fmt.Fprintf(e.stderr, "bfc search: %s: %v\n", what, err)
		}
	}
	if err := search.WriteFileAtomic(reportPath, []byte(sum.Markdown(10))); err != nil {
		warn("report", err)
	}
	if err := sum.WritePlot(plotPath); err != nil {
		warn("plot", err)
	}
	if text, err := sum.BestFile(); err == nil {
		if err := search.WriteFileAtomic(out, []byte(text)); err != nil {
			warn("best model", err)
		}
	}
}

// searchReport redraws a journal's report.
func searchReport(e *env, path, out string) int {
	recs, torn, err := search.ReadJournal(path)
	if err != nil {
		fmt.Fprintf(e.stderr, "bfc search: -report: %v\n", err)
		return exitError
	}
	if len(recs) == 0 {
		fmt.Fprintf(e.stderr, "bfc search: -report %s: the journal is empty\n", path)
		return exitError
	}
	if torn {
		fmt.Fprintf(e.stderr, "bfc search: -report %s: its last record was cut short; reporting the others\n", path)
	}
	stem := strings.TrimSuffix(strings.TrimSuffix(path, ".jsonl"), ".journal")
	if out == "" {
		out = stem + ".best.bf"
	}
	sum := search.Summarise(recs)
	writeSearchOutputs(e, sum, stem+".report.md", stem+".png", out, true)
	fmt.Fprint(e.stdout, sum.Markdown(10))
	fmt.Fprintf(e.stdout, "\nreport %s, plot %s", stem+".report.md", stem+".png")
	if sum.Best() != nil {
		fmt.Fprintf(e.stdout, ", best model %s", out)
	}
	fmt.Fprintln(e.stdout)
	return exitOK
}

// resumeCommand is the command line that continues a search.
func resumeCommand(args []string, journal string) string {
	out := []string{selfCommand(), "search", "-resume"}
	hasJournal := false
	for _, a := range args {
		if a == "-resume" || a == "--resume" || a == "-resume=true" {
			continue
		}
		if strings.HasPrefix(strings.TrimLeft(a, "-"), "journal") {
			hasJournal = true
		}
		out = append(out, shellQuote(a))
	}
	if !hasJournal {
		out = append(out[:3], append([]string{"-journal", shellQuote(journal)}, out[3:]...)...)
	}
	return strings.Join(out, " ")
}

// splitFlags splits a flag string on spaces (no quoting).
func splitFlags(s string) ([]string, error) {
	f := strings.Fields(s)
	if len(f) > 0 && !strings.HasPrefix(f[0], "-") {
		return nil, fmt.Errorf("%q is not a flag; write flags such as '-lr 2e-3'", f[0])
	}
	return f, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown CPU"
	}
	return s
}

// cpuName is the CPU's model name from /proc/cpuinfo ("" elsewhere).
func cpuName() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// trialRunner evaluates candidates: each is generated and built through
// bfc train's trainer cache and runs in a process of its own.
type trialRunner struct {
	e         *env
	dir       string
	corpus    []string
	threads   int
	trial     time.Duration
	hurdle    float64
	seed      uint64
	measure   int
	extra     []string
	precision string
}

// trialResult is what the trainer writes with -result.
type trialResult struct {
	Status     string    `json:"status"`
	Error      string    `json:"error"`
	Steps      int       `json:"steps"`
	Tokens     int64     `json:"tokens"`
	Elapsed    float64   `json:"elapsed_s"`
	HeldOut    *float64  `json:"heldout_bpb"`
	HurdleBPB  *float64  `json:"hurdle_bpb"`
	MedianStep float64   `json:"median_step_s"`
	StepTimes  []float64 `json:"step_times_s"`
	GOMAXPROCS int       `json:"gomaxprocs"`
}

func (r *trialRunner) trialDir(t *search.Trial) string {
	return filepath.Join(r.dir, fmt.Sprintf("%04d", t.N))
}

// build writes the candidate's file and builds its trainer.
func (r *trialRunner) build(t *search.Trial) (string, error) {
	dir := r.trialDir(t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := search.WriteFileAtomic(filepath.Join(dir, "candidate.bf"), []byte(t.Text)); err != nil {
		return "", err
	}
	src := &train.ModelSource{Main: "candidate.bf", Files: map[string]string{"candidate.bf": t.Text}}
	progs, diags := compiler.CompileSource(compiler.Options{}, "candidate.bf", []byte(t.Text))
	if len(diags) > 0 {
		return "", fmt.Errorf("bfc check: %v", diags[0])
	}
	if len(progs) != 1 {
		return "", errors.New("the candidate declares no model")
	}
	src.Model = progs[0].Name
	var quiet bytes.Buffer
	bin, err := buildRunner(&env{stdout: &quiet, stderr: &quiet}, progs[0], src, r.precision)
	if err != nil {
		return "", fmt.Errorf("building the trainer: %v", err)
	}
	return bin, nil
}

// run runs the trainer with args and a time limit and reads its result.
func (r *trialRunner) run(ctx context.Context, t *search.Trial, bin string, limit time.Duration, args ...string) (*trialResult, error) {
	dir := r.trialDir(t)
	resPath := filepath.Join(dir, "result.json")
	os.Remove(resPath)
	args = append(append([]string{"-result", resPath, "-seed", strconv.FormatUint(r.seed, 10)}, args...), r.extra...)
	if len(r.corpus) > 0 {
		args = append(append(args, "--"), r.corpus...)
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	c := exec.CommandContext(ctx, bin, args...)
	c.Dir = dir
	c.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(r.threads))
	ownProcessGroup(c)
	c.Cancel = func() error { return killGroup(c) }
	var stderr tailBuffer
	c.Stdout = &tailBuffer{}
	c.Stderr = &stderr
	err := c.Run()
	res := &trialResult{}
	b, rerr := os.ReadFile(resPath)
	if rerr == nil {
		if jerr := json.Unmarshal(b, res); jerr != nil {
			return nil, fmt.Errorf("reading the trainer's result: %v", jerr)
		}
	}
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return nil, fmt.Errorf("ran out of time: the trainer was still running after %s and was killed", limit)
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case rerr == nil && res.Status == "failed":
		return nil, errors.New(res.Error)
	case err != nil:
		return nil, fmt.Errorf("%s", crashReason(err, stderr.String()))
	case rerr != nil:
		return nil, fmt.Errorf("the trainer wrote no result: %v", rerr)
	}
	return res, nil
}

// crashReason describes a trainer that exited badly, from its stderr.
func crashReason(err error, stderr string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "panic:") || strings.HasPrefix(l, "fatal error:") {
			if strings.Contains(l, "out of memory") {
				return "out of memory: " + l
			}
			return l + " (" + err.Error() + ")"
		}
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			why := fmt.Sprintf("killed by signal %v", ws.Signal())
			if ws.Signal() == syscall.SIGKILL {
				why += " (the system may have run out of memory)"
			}
			return why
		}
	}
	last := ""
	if len(lines) > 0 {
		last = ": " + lines[len(lines)-1]
	}
	return err.Error() + last
}

func (r *trialRunner) StepTime(ctx context.Context, t *search.Trial) (float64, error) {
	bin, err := r.build(t)
	if err != nil {
		return 0, err
	}
	dir := r.trialDir(t)
	res, err := r.run(ctx, t, bin, 10*time.Minute, "-measure-steps", strconv.Itoa(r.measure), "-measure-warmup", "3",
		"-ckpt", filepath.Join(dir, "measure.safetensors"), "-log", "off", "-plot", "off")
	if err != nil {
		return 0, err
	}
	if !(res.MedianStep > 0) {
		return 0, fmt.Errorf("the trainer reported no step time (status %q)", res.Status)
	}
	return res.MedianStep, nil
}

func (r *trialRunner) Train(ctx context.Context, t *search.Trial) (*search.Outcome, error) {
	bin, err := r.build(t)
	if err != nil {
		return nil, err
	}
	dir := r.trialDir(t)
	ckpt := filepath.Join(dir, "trial.safetensors")
	args := []string{"-time", r.trial.String(), "-steps", "100000000", "-eval-every", "0",
		"-ckpt", ckpt, "-log", filepath.Join(dir, "train.jsonl"), "-plot", "off", "-sample", "0"}
	if r.hurdle > 0 {
		args = append(args, "-hurdle", strconv.FormatFloat(r.hurdle, 'g', -1, 64))
		if !math.IsNaN(t.Threshold) {
			args = append(args, "-hurdle-bpb", strconv.FormatFloat(t.Threshold, 'g', -1, 64))
		}
	}
	// The trial's time, its evaluations, the corpus and saving, with room.
	limit := r.trial + max(2*time.Minute, r.trial/2)
	res, err := r.run(ctx, t, bin, limit, args...)
	os.Remove(ckpt) // the .bf file retrains it; checkpoints would fill the disk
	if err != nil {
		return nil, err
	}
	return outcome(res)
}

// outcome reads a trainer's result of a trial.
func outcome(res *trialResult) (*search.Outcome, error) {
	o := &search.Outcome{BPB: math.NaN(), HurdleBPB: math.NaN(), Steps: res.Steps, Tokens: res.Tokens, Seconds: res.Elapsed}
	if res.HeldOut != nil {
		o.BPB = *res.HeldOut
	}
	if res.HurdleBPB != nil {
		o.HurdleBPB = *res.HurdleBPB
	}
	switch res.Status {
	case "ok":
	case "hurdle":
		o.Stopped = true
		if math.IsNaN(o.BPB) {
			o.BPB = o.HurdleBPB
		}
	default:
		return nil, fmt.Errorf("the trainer ended with status %q", res.Status)
	}
	return o, nil
}

// tailBuffer keeps the last 64 KiB written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 64<<10 {
		t.b = t.b[len(t.b)-64<<10:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }
