package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bfcdev/bfc/compare"
	"github.com/bfcdev/bfc/compiler"
	"github.com/bfcdev/bfc/compiler/ir"
	"github.com/bfcdev/bfc/compiler/stats"
	"github.com/bfcdev/bfc/runtime/train"
)

// compareModel is one model of bfc compare, checked and built.
type compareModel struct {
	file, name, bin   string
	params, activated int64
}

func runCompare(e *env, args []string) int {
	fs := newFlags(e, "compare")
	budget := fs.Duration("time", 5*time.Minute, "training time of every run")
	seeds := fs.Int("seeds", 3, "runs of each model, with seeds 1 to N")
	parallel := fs.Int("parallel", 1, "runs at once; the cores are shared out between them")
	threadsFlag := fs.Int("threads", 0, "threads per run (0: the cores shared out between -parallel runs)")
	outDir := fs.String("out", "compare", "directory of the report (compare.md, compare.json, curves.png, step.png) and the runs")
	evalTime := fs.Duration("eval-time", 0, "held-out evaluation every this much training time, for the curves (0: a tenth of -time)")
	precision := precisionFlag(fs)
	trainerFlags := fs.String("trainer-flags", "", "flags added to every run's trainer, as '-lr 2e-3' (see bfc train FILE.bf -help)")
	if code, ok := parseFlags(fs, e, args); !ok {
		return code
	}
	if !checkPrecision(e, "compare", *precision) {
		return exitUsage
	}
	var files, corpus []string
	for _, a := range fs.Args() {
		if strings.HasSuffix(a, ".bf") {
			files = append(files, a)
		} else {
			corpus = append(corpus, a)
		}
	}
	switch {
	case len(files) == 0:
		fmt.Fprintln(e.stderr, "bfc compare: want at least one .bf file (the models to compare)")
		fs.Usage()
		return exitUsage
	case *budget <= 0:
		fmt.Fprintf(e.stderr, "bfc compare: -time %v: must be positive\n", *budget)
		return exitUsage
	case *seeds < 1:
		fmt.Fprintf(e.stderr, "bfc compare: -seeds %d: must be at least 1\n", *seeds)
		return exitUsage
	case *parallel < 1:
		fmt.Fprintf(e.stderr, "bfc compare: -parallel %d: must be at least 1\n", *parallel)
		return exitUsage
	case *threadsFlag < 0:
		fmt.Fprintf(e.stderr, "bfc compare: -threads %d: must be 0 (share the cores) or more\n", *threadsFlag)
		return exitUsage
	case *evalTime < 0:
		fmt.Fprintf(e.stderr, "bfc compare: -eval-time %v: must not be negative\n", *evalTime)
		return exitUsage
	}
	if *evalTime == 0 {
		*evalTime = *budget / 10
	}
	extra, err := splitFlags(*trainerFlags)
	if err != nil {
		fmt.Fprintf(e.stderr, "bfc compare: -trainer-flags: %v\n", err)
		return exitUsage
	}
	for _, f := range extra {
		for _, own := range []string{"time", "steps", "result", "ckpt", "log", "plot", "sample", "seed", "resume", "eval-time", "eval-every"} {
			if strings.TrimLeft(strings.SplitN(f, "=", 2)[0], "-") == own {
				fmt.Fprintf(e.stderr, "bfc compare: -trainer-flags: %s is set by bfc compare itself (use -time, -seeds, -eval-time)\n", f)
				return exitUsage
			}
		}
	}
	abs := make([]string, len(corpus))
	for i, c := range corpus {
		if _, err := os.Stat(c); err != nil {
			fmt.Fprintf(e.stderr, "bfc compare: corpus: %v\n", err)
			return exitUsage
		}
		abs[i], _ = filepath.Abs(c)
	}
	threads := max(1, runtime.NumCPU()/(*parallel))
	if *threadsFlag > 0 {
		threads = *threadsFlag
	}

	// Check and build every model before the first run.
	type pending struct {
		p   *ir.Program
		src *train.ModelSource
	}
	var models []*compareModel
	var checked []pending
	seen := map[string]string{}
	for _, f := range files {
		src := &train.ModelSource{Main: f, Files: map[string]string{}}
		readFile := func(p string) ([]byte, error) {
			b, err := os.ReadFile(p)
			if err == nil {
				src.Files[p] = string(b)
			}
			return b, err
		}
		p, code := compileSource(e, "compare", src, "", readFile)
		if p == nil {
			return code
		}
		src.Model = p.Name
		res, diags := compiler.Check(compiler.Options{}, f)
		if len(diags) > 0 || len(res.Models) == 0 {
			printDiags(e.stderr, diags, 10)
			return exitError
		}
		st := stats.Compute(res.Models[0])
		name := strings.TrimSuffix(filepath.Base(f), ".bf")
		if other, ok := seen[name]; ok {
			fmt.Fprintf(e.stderr, "bfc compare: %s and %s have the same base name %q; rename one (the runs are kept by it)\n", other, f, name)
			return exitUsage
		}
		seen[name] = f
		checked = append(checked, pending{p, src})
		models = append(models, &compareModel{file: f, name: name, params: st.Params, activated: st.Activated})
	}
	for i, m := range models {
		p, src := checked[i].p, checked[i].src
		fmt.Fprintf(e.stdout, "bfc compare: building %s (%s parameters, %s activated per token)\n", m.file, stats.Short(m.params), stats.Short(m.activated))
		var quiet bytes.Buffer
		bin, err := buildRunner(&env{stdout: &quiet, stderr: &quiet}, p, src, *precision)
		if err != nil {
			fmt.Fprintf(e.stderr, "bfc compare: %s: building the trainer: %v\n%s", m.file, err, quiet.String())
			return exitError
		}
		m.bin = bin
	}
	runsDir := filepath.Join(*outDir, "runs")
	if err := os.MkdirAll(runsDir, 0o755); err != nil {
		fmt.Fprintf(e.stderr, "bfc compare: %v\n", err)
		return exitError
	}
	settings := compare.Settings{
		Date: time.Now().UTC().Format("2006-01-02"), CPU: orUnknown(cpuName()), Time: budget.String(), Seeds: *seeds,
		Parallel: *parallel, Threads: threads, Corpus: "Go's sources (the default corpus)", Precision: strings.TrimPrefix(*precision, "float32"),
		Command: "bfc compare " + strings.Join(args, " "),
	}
	if len(corpus) > 0 {
		settings.Corpus = strings.Join(corpus, ", ")
	}
	fmt.Fprintf(e.stdout, "bfc compare: %d model(s) × %d seed(s), %s each, %d at a time × %d thread(s) on %s; results in %s\n",
		len(models), *seeds, *budget, *parallel, threads, settings.CPU, *outDir)

	type job struct {
		m    *compareModel
		seed int
		i    int
	}
	var jobs []job
	for s := 1; s <= *seeds; s++ { // seed by seed, so that a cut study has every model
		for _, m := range models {
			jobs = append(jobs, job{m, s, len(jobs)})
		}
	}
	runs := make([]compare.Run, len(jobs))
	done := make([]bool, len(jobs))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var mu sync.Mutex
	finished := 0
	start := time.Now()
	report := func() {
		var kept []compare.Run
		for i, ok := range done {
			if ok {
				kept = append(kept, runs[i])
			}
		}
		if len(kept) > 0 {
			writeCompareOutputs(e, *outDir, settings, kept)
		}
	}
	work := make(chan job)
	var wg sync.WaitGroup
	for w := 0; w < *parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				r := compareRun(ctx, j.m, j.seed, filepath.Join(runsDir, fmt.Sprintf("%s-seed%d", j.m.name, j.seed)), *budget, *evalTime, threads, abs, extra)
				if ctx.Err() != nil {
					return
				}
				mu.Lock()
				runs[j.i], done[j.i] = r, true
				finished++
				line := fmt.Sprintf("%.3f held-out bpb, %d steps, %.1f ms per step", r.BPB, r.Steps, 1000*r.StepTime())
				if r.Status != "ok" {
					line = "failed: " + r.Error
				}
				fmt.Fprintf(e.stdout, "[%d/%d] %s seed %d: %s  (%s elapsed)\n", finished, len(jobs), j.m.name, j.seed, line, time.Since(start).Round(time.Second))
				report()
				mu.Unlock()
			}
		}()
	}
feed:
	for _, j := range jobs {
		select {
		case work <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	interrupted := ctx.Err() != nil
	stop()
	report()
	if interrupted {
		fmt.Fprintf(e.stdout, "bfc compare: stopped; %d of %d runs kept in %s; the same command again continues with the others\n", finished, len(jobs), runsDir)
		return exitOK
	}
	fmt.Fprintf(e.stdout, "bfc compare: done: %s, %s, %s, %s\n",
		filepath.Join(*outDir, "compare.md"), filepath.Join(*outDir, "compare.json"), filepath.Join(*outDir, "curves.png"), filepath.Join(*outDir, "step.png"))
	if b, err := os.ReadFile(filepath.Join(*outDir, "compare.md")); err == nil {
		e.stdout.Write(b)
	}
	return exitOK
}

// compareRun trains one model with one seed in dir, or reads the run a
// finished earlier compare left there.
func compareRun(ctx context.Context, m *compareModel, seed int, dir string, budget, evalTime time.Duration, threads int, corpus, extra []string) compare.Run {
	r := compare.Run{Model: m.name, File: m.file, Seed: uint64(seed), Params: m.params, Activated: m.activated}
	if a, err := filepath.Abs(dir); err == nil {
		dir = a
	}
	logPath, resPath := filepath.Join(dir, "train.jsonl"), filepath.Join(dir, "result.json")
	stamp := fmt.Sprintf("%s %s %s %d %q %q\n", m.bin, budget, evalTime, threads, corpus, extra)
	stampPath := filepath.Join(dir, "settings")
	if b, err := os.ReadFile(stampPath); err == nil && string(b) == stamp {
		if f, err := os.Open(logPath); err == nil {
			err := r.ReadLog(f, logPath)
			f.Close()
			if err == nil {
				r.Status = "ok"
				return r
			}
		}
	}
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.Status, r.Error = "failed", err.Error()
		return r
	}
	args := append([]string{"-time", budget.String(), "-steps", "100000000", "-eval-every", "0", "-eval-time", evalTime.String(),
		"-seed", strconv.Itoa(seed), "-result", resPath, "-ckpt", filepath.Join(dir, "run.safetensors"), "-log", logPath,
		"-plot", "off", "-sample", "0"}, extra...)
	if len(corpus) > 0 {
		args = append(append(args, "--"), corpus...)
	}
	c := exec.CommandContext(ctx, m.bin, args...)
	c.Dir = dir
	c.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(threads))
	ownProcessGroup(c)
	c.Cancel = func() error { return killGroup(c) }
	var stderr tailBuffer
	c.Stdout, c.Stderr = &tailBuffer{}, &stderr
	err := c.Run()
	os.Remove(filepath.Join(dir, "run.safetensors"))
	if ctx.Err() != nil {
		r.Status, r.Error = "stopped", "interrupted"
		return r
	}
	if err != nil {
		r.Status, r.Error = "failed", crashReason(err, stderr.String())
		return r
	}
	f, err := os.Open(logPath)
	if err != nil {
		r.Status, r.Error = "failed", err.Error()
		return r
	}
	err = r.ReadLog(f, logPath)
	f.Close()
	if err != nil {
		r.Status, r.Error = "failed", err.Error()
		return r
	}
	r.Status = "ok"
	os.WriteFile(stampPath, []byte(stamp), 0o644)
	return r
}

// writeCompareOutputs writes the table, the JSON and the plots.
func writeCompareOutputs(e *env, dir string, s compare.Settings, runs []compare.Run) {
	rows := compare.Summarise(runs)
	warn := func(what string, err error) { fmt.Fprintf(e.stderr, "bfc compare: %s: %v\n", what, err) }
	md := compare.Markdown(s, rows)
	if err := writeFileAtomic(filepath.Join(dir, "compare.md"), []byte(md)); err != nil {
		warn("report", err)
	}
	if b, err := (&compare.Report{Settings: s, Rows: rows, Runs: runs}).JSON(); err != nil {
		warn("JSON", err)
	} else if err := writeFileAtomic(filepath.Join(dir, "compare.json"), b); err != nil {
		warn("JSON", err)
	}
	for name, draw := range map[string]func(io.Writer) error{
		"curves.png": func(w io.Writer) error { return compare.CurvesPNG(runs, w) },
		"step.png":   func(w io.Writer) error { return compare.StepPNG(rows, w) },
	} {
		var b bytes.Buffer
		err := draw(&b)
		if err == nil {
			err = writeFileAtomic(filepath.Join(dir, name), b.Bytes())
		}
		if err != nil {
			warn(name, err)
		}
	}
}
