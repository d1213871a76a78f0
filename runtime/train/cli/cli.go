// Package cli is the command-line trainer shared by examples/charlm and the
// programs `bfc train` builds: flags, a corpus read through data.Open
// (memory-mapped, split into training and held-out files), train.Run with a
// progress line, a JSON-lines log and a PNG loss plot, Ctrl-C to stop with a
// checkpoint, -resume, a sample at the end, and a "sample" mode that
// generates text from a checkpoint. For tools that run it as a child
// process: -result (a JSON report of how the run ended), -measure-steps
// (time training steps instead of training) and -hurdle (an early held-out
// evaluation that can stop the run).
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/bfcdev/bfc/runtime/plot"
	"github.com/bfcdev/bfc/runtime/tensor"
	"github.com/bfcdev/bfc/runtime/train"
)

// Model is a generated model the program can train.
type Model struct {
	Name      string // -arch value and the checkpoint's bfc.model
	Doc       string // a few words for -help, as "charlm.bf"
	New       func(seed uint64) train.Model
	MaxBatch  int // the model's input(batch: ...)
	MaxSeq    int // and input(seq: ...)
	NumParams int
	// Source is recorded in checkpoints, so that bfc sample can rebuild
	// the model from a checkpoint alone (nil: not recorded).
	Source *train.ModelSource
}

// Program describes a trainer.
type Program struct {
	Name       string  // in messages, as "charlm"
	Command    string  // how a user runs it, for the printed resume command
	Models     []Model // the first is the default; -arch picks another
	Checkpoint string  // default -ckpt
	// Sample is how a user samples a checkpoint ("" : Command + " sample").
	Sample string
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// Main runs the trainer with args (without the program name) and returns
// the exit code. "sample" as the first argument samples a checkpoint
// instead. The first interrupt (Ctrl-C) or SIGTERM stops training after the
// current step with a checkpoint; a second one exits at once.
func Main(p Program, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "sample" {
		return Sample(p, args[1:], stdout, stderr)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	stop := make(chan struct{})
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-sig:
			close(stop)
		case <-done:
			return
		}
		select {
		case <-sig:
			fmt.Fprintf(stderr, "\n%s: interrupted again; exiting without a checkpoint\n", p.Name)
			os.Exit(130)
		case <-done:
		}
	}()
	// Once training is over (sampling), Ctrl-C exits as usual.
	return Train(p, args, stdout, stderr, stop, func() { signal.Stop(sig) })
}

// options are the parsed training flags.
type options struct {
	model             *Model
	cfg               train.Config
	heldOut           float64
	maxBytes          int64
	logPath, plotPath string
	sampleLen         int
	temp, topP        float64
	prompt            string
	paths             []string
	fs                *flag.FlagSet
	// For tools that run the trainer (bfc search): -result, -measure-steps
	// and -measure-warmup (-hurdle and -hurdle-bpb are in cfg).
	resultPath    string
	measureSteps  int
	measureWarmup int
}

// off turns the log or the plot off.
const off = "off"

// parseTrain parses the training flags; code is the exit code when it
// returns nil.
func parseTrain(p Program, args []string, stderr io.Writer) (o *options, code int) {
	fs := flag.NewFlagSet(p.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		sampleCmd := sampleCommand(p)
		fmt.Fprintf(fs.Output(), "usage: %s [flags] [FILE or DIR...]\n       %s [flags] CHECKPOINT\n\n", p.Command, sampleCmd)
		fmt.Fprintf(fs.Output(), "Trains the model on the named files (default: the Go standard library sources\nunder $(go env GOROOT)/src), some files held out for evaluation. Ctrl-C stops\nwith a checkpoint and prints the command that resumes. '%s -help' lists\nthe sampling flags.\n\nFlags:\n", sampleCmd)
		fs.PrintDefaults()
	}
	var names []string
	for _, m := range p.Models {
		names = append(names, m.Name)
	}
	arch := p.Models[0].Name
	if len(p.Models) > 1 {
		var docs []string
		for _, m := range p.Models {
			docs = append(docs, fmt.Sprintf("%s (%s)", m.Name, m.Doc))
		}
		fs.StringVar(&arch, "arch", arch, "model to train: "+strings.Join(docs, " or "))
	}
	o = &options{fs: fs}
	c := &o.cfg
	fs.IntVar(&c.Steps, "steps", 2000, "optimizer steps")
	fs.DurationVar(&c.Duration, "time", 0, "stop training after this long (0: run all steps)")
	fs.IntVar(&c.Batch, "batch", 0, "sequences per step (default and maximum: the model's input(batch: ...))")
	fs.IntVar(&c.Seq, "seq", 0, "bytes per sequence (default and maximum: the model's input(seq: ...))")
	fs.Float64Var(&c.LR, "lr", 3e-3, "peak learning rate (the cosine ends at a tenth of it)")
	fs.IntVar(&c.Warmup, "warmup", 100, "learning-rate warm-up steps")
	fs.StringVar(&c.Schedule, "schedule", "cosine", "learning-rate schedule after warm-up: cosine or invsqrt")
	fs.StringVar(&c.Optimizer, "optimizer", "adamw", "optimizer: adamw or adafactor")
	fs.Float64Var(&c.WeightDecay, "wd", 0.1, "decoupled weight decay")
	fs.Float64Var(&c.Clip, "clip", 1.0, "global gradient-norm clip (0: off)")
	fs.IntVar(&c.EvalEvery, "eval-every", 500, "held-out evaluation interval in steps")
	fs.DurationVar(&c.EvalInterval, "eval-time", 0, "also evaluate held-out each time this much training time has passed, off the clock (0: never)")
	fs.IntVar(&c.EvalBatches, "eval-batches", 16, "batches per held-out evaluation")
	fs.Float64Var(&o.heldOut, "heldout", 0.05, "fraction of files held out for evaluation (of bytes, for a single file)")
	fs.Int64Var(&o.maxBytes, "max-bytes", 32<<20, "train on at most this many bytes of the corpus (0: all)")
	fs.StringVar(&c.Checkpoint, "ckpt", p.Checkpoint, "training checkpoint path (safetensors: parameters, optimizer state, step, .bf source)")
	fs.IntVar(&c.CheckpointEvery, "checkpoint-every", 0, "also save the checkpoint every this many steps (0: at evaluations, on Ctrl-C and at the end)")
	fs.StringVar(&c.Resume, "resume", "", "continue the run saved in this training checkpoint (same flags and files)")
	fs.StringVar(&c.NonFinite, "nonfinite", "stop", "on a NaN/Inf loss or gradient: stop (naming the parameter) or skip the step")
	fs.StringVar(&o.logPath, "log", "", "JSON-lines training log (default: beside the checkpoint, .jsonl; off: none)")
	fs.IntVar(&c.LogEvery, "log-every", 50, "log the training loss every this many steps (besides each evaluation)")
	fs.StringVar(&o.plotPath, "plot", "", "PNG plot of training and held-out loss, redrawn at each evaluation (default: beside the log, .png; off: none)")
	fs.IntVar(&o.sampleLen, "sample", 300, "bytes of text to generate at the end (0: none)")
	fs.Float64Var(&o.temp, "temperature", 0.8, "sampling temperature (0: greedy)")
	fs.Float64Var(&o.topP, "top-p", 0.95, "nucleus sampling mass")
	fs.StringVar(&o.prompt, "prompt", "func ", "text the sample starts from")
	fs.Uint64Var(&c.Seed, "seed", 1, "seed for initialisation, batches and sampling")
	fs.StringVar(&o.resultPath, "result", "", "when the run ends, write how (status, steps, held-out bits per byte, ...) as one JSON object to this file")
	fs.IntVar(&o.measureSteps, "measure-steps", 0, "instead of training, time this many training steps and write them to -result (0: train)")
	fs.IntVar(&o.measureWarmup, "measure-warmup", 3, "untimed training steps before -measure-steps")
	fs.Float64Var(&c.Hurdle, "hurdle", 0, "evaluate held-out once when the training time reaches this fraction of -time (0: never)")
	fs.Float64Var(&c.HurdleBPB, "hurdle-bpb", 0, "with -hurdle: stop there if held-out bits per byte are above this (default: go on)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, exitOK
		}
		return nil, exitUsage
	}
	bad := func(format string, args ...any) (*options, int) {
		fmt.Fprintf(stderr, "%s: %s\n", p.Name, fmt.Sprintf(format, args...))
		return nil, exitUsage
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for i := range p.Models {
		if p.Models[i].Name == arch {
			o.model = &p.Models[i]
		}
	}
	if o.model == nil {
		return bad("-arch %q: want %s", arch, strings.Join(names, " or "))
	}
	m := o.model
	if c.Batch == 0 {
		c.Batch = m.MaxBatch
	}
	if c.Seq == 0 {
		c.Seq = m.MaxSeq
	}
	c.MinLR = c.LR / 10
	switch {
	case c.Batch < 1 || c.Batch > m.MaxBatch:
		return bad("-batch %d: must be between 1 and %d (the model's input(batch: ...))", c.Batch, m.MaxBatch)
	case c.Seq < 2 || c.Seq > m.MaxSeq:
		return bad("-seq %d: must be between 2 and %d (the model's input(seq: ...))", c.Seq, m.MaxSeq)
	case c.Steps < 1:
		return bad("-steps %d: must be at least 1", c.Steps)
	case !(c.LR > 0):
		return bad("-lr %v: must be positive", c.LR)
	case c.CheckpointEvery < 0:
		return bad("-checkpoint-every %d: must be 0 (off) or a number of steps", c.CheckpointEvery)
	case c.LogEvery < 0:
		return bad("-log-every %d: must be 0 (evaluations only) or a number of steps", c.LogEvery)
	case c.Optimizer != "adamw" && c.Optimizer != "adafactor":
		return bad("-optimizer %q: want adamw or adafactor", c.Optimizer)
	case c.Schedule != "cosine" && c.Schedule != "invsqrt":
		return bad("-schedule %q: want cosine or invsqrt", c.Schedule)
	case c.NonFinite != "stop" && c.NonFinite != "skip":
		return bad("-nonfinite %q: want stop or skip", c.NonFinite)
	case o.heldOut <= 0 || o.heldOut >= 1:
		return bad("-heldout %v: must be between 0 and 1", o.heldOut)
	case o.sampleLen < 0:
		return bad("-sample %d: must be 0 (none) or a number of bytes", o.sampleLen)
	case c.Checkpoint == "":
		return bad("-ckpt: a checkpoint path is needed")
	case set["hurdle"] && !(c.Hurdle > 0 && c.Hurdle < 1):
		return bad("-hurdle %v: must be between 0 and 1 (a fraction of -time)", c.Hurdle)
	case c.Hurdle > 0 && c.Duration <= 0:
		return bad("-hurdle %v needs -time: it is a fraction of the time budget", c.Hurdle)
	case set["hurdle-bpb"] && !(c.HurdleBPB > 0 && !math.IsInf(c.HurdleBPB, 0)):
		return bad("-hurdle-bpb %v: must be a positive number of bits per byte", c.HurdleBPB)
	case set["hurdle-bpb"] && c.Hurdle == 0:
		return bad("-hurdle-bpb %v needs -hurdle: the fraction of -time at which to evaluate", c.HurdleBPB)
	case o.measureSteps < 0:
		return bad("-measure-steps %d: must be 0 (train) or a number of steps", o.measureSteps)
	case o.measureWarmup < 0:
		return bad("-measure-warmup %d: must be 0 or a number of steps", o.measureWarmup)
	case set["measure-warmup"] && o.measureSteps == 0:
		return bad("-measure-warmup %d needs -measure-steps", o.measureWarmup)
	case o.measureSteps > 0 && c.Resume != "":
		return bad("-measure-steps %d: not with -resume (a measurement times a fresh model)", o.measureSteps)
	case o.measureSteps > 0 && c.Hurdle > 0:
		return bad("-hurdle %v: not with -measure-steps (a measurement does not evaluate)", c.Hurdle)
	}
	if c.Resume != "" {
		if _, err := os.Stat(c.Resume); err != nil {
			return bad("-resume: %v", err)
		}
	}
	if o.logPath == "" {
		o.logPath = strings.TrimSuffix(c.Checkpoint, ".safetensors") + ".jsonl"
	}
	if o.plotPath == "" && o.logPath != off {
		o.plotPath = strings.TrimSuffix(o.logPath, ".jsonl") + ".png"
	}
	if o.logPath == off {
		o.logPath = ""
		if o.plotPath != "" && o.plotPath != off {
			return bad("-plot %s: the plot is drawn from the log; set -log too", o.plotPath)
		}
	}
	if o.plotPath == off {
		o.plotPath = ""
	}
	if o.logPath != "" && (o.logPath == c.Checkpoint || o.logPath == o.plotPath) || o.plotPath != "" && o.plotPath == c.Checkpoint {
		return bad("-ckpt, -log and -plot must name different files")
	}
	if r := o.resultPath; r != "" && (r == c.Checkpoint || r == o.logPath || r == o.plotPath) {
		return bad("-result %s: must name a file other than -ckpt, -log and -plot", r)
	}
	if o.measureSteps == 0 { // a measurement writes none of them
		if err := overwritable(c.Checkpoint, isSafetensors); err != nil {
			return bad("-ckpt: %v", err)
		}
		if err := overwritable(o.logPath, isLog); err != nil {
			return bad("-log: %v", err)
		}
		if err := overwritable(o.plotPath, isPNG); err != nil {
			return bad("-plot: %v", err)
		}
	}
	if err := overwritable(o.resultPath, isLog); err != nil { // a JSON object, as the log's lines
		return bad("-result: %v", err)
	}
	c.Metadata = map[string]string{train.MetaModel: m.Name}
	if m.Source != nil {
		c.Metadata[train.MetaSource] = m.Source.Encode()
	}
	o.paths = fs.Args()
	return o, exitOK
}

// Train runs a training run with stop as its Ctrl-C; trained is called when
// training is over (before sampling).
func Train(p Program, args []string, stdout, stderr io.Writer, stop <-chan struct{}, trained func()) int {
	o, code := parseTrain(p, args, stderr)
	if o == nil {
		return code // bad flags: no -result file
	}
	m, cfg := o.model, o.cfg
	// -result: the report of how the run ended, written once.
	reported := false
	report := func(r *train.Report) int {
		reported = true
		if o.resultPath == "" {
			return exitOK
		}
		if err := r.WriteFile(o.resultPath); err != nil {
			fmt.Fprintf(stderr, "%s: -result: %v\n", p.Name, err)
			return exitError
		}
		return exitOK
	}
	failed := func(err error) *train.Report {
		if o.measureSteps > 0 {
			return train.MeasureReport(nil, err, m.NumParams)
		}
		return train.NewReport(nil, err, m.NumParams)
	}
	fail := func(format string, args ...any) int {
		msg := fmt.Sprintf(format, args...)
		fmt.Fprintf(stderr, "%s: %s\n", p.Name, msg)
		if !reported {
			report(failed(errors.New(msg)))
		}
		return exitError
	}
	if o.resultPath != "" {
		// A panic (in the model, say) is reported too, then goes on.
		defer func() {
			if r := recover(); r != nil {
				if !reported {
					report(failed(fmt.Errorf("panic: %v", r)))
				}
				panic(r)
			}
		}()
		if err := os.MkdirAll(filepath.Dir(o.resultPath), 0o755); err != nil {
			return fail("-result: %v", err)
		}
	}
	if o.measureSteps > 0 {
		return measure(p, o, stdout, stop, trained, report, fail)
	}
	var resumeStep int
	if cfg.Resume != "" {
		md, err := train.ReadMetadata(cfg.Resume)
		if err != nil {
			return fail("-resume: %v", err)
		}
		if got := md[train.MetaModel]; got != "" && got != m.Name {
			hint := ""
			if len(p.Models) > 1 {
				hint = "; resume it with -arch " + got
			}
			return fail("-resume %s: a checkpoint of a different model (%s, this run trains %s)%s", cfg.Resume, got, m.Name, hint)
		}
		if text := md[train.MetaSource]; text != "" && m.Source != nil && text != m.Source.Encode() {
			fmt.Fprintf(stderr, "%s: warning: %s was trained from other .bf source than this model's; resuming if its parameters fit\n", p.Name, cfg.Resume)
		}
		fmt.Sscan(md["bfc.train.step"], &resumeStep)
	}

	if cfg.Resume == "" {
		if md, err := train.ReadMetadata(cfg.Checkpoint); err == nil && md["bfc.train.step"] != "" {
			fmt.Fprintf(stderr, "%s: note: this fresh run replaces the checkpoint %s (step %s); -resume %s continues it instead\n",
				p.Name, cfg.Checkpoint, md["bfc.train.step"], shellQuote(cfg.Checkpoint))
		}
	}
	for _, f := range []string{cfg.Checkpoint, o.logPath, o.plotPath} {
		if f == "" {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			return fail("%v", err)
		}
	}
	trainData, heldOut, desc, err := corpus(o.paths, o.heldOut, o.maxBytes)
	if err != nil {
		return fail("%v", err)
	}
	defer trainData.Close()
	defer heldOut.Close()
	fmt.Fprintf(stdout, "%s: %s model, %d parameters; training on %s\n", p.Name, m.Name, m.NumParams, desc)

	var lw *logWriter
	if o.logPath != "" {
		if lw, err = openLog(o.logPath, cfg.Resume != "", resumeStep); err != nil {
			return fail("%v", err)
		}
		defer lw.f.Close()
		cfg.Log = lw
	}
	plotErr := ""
	drawPlot := func() bool {
		if o.plotPath == "" || lw == nil || lw.lines == 0 {
			return false
		}
		if err := plot.LossPNG(o.logPath, o.plotPath); err != nil {
			if msg := err.Error(); msg != plotErr {
				fmt.Fprintf(stderr, "%s: loss plot: %v\n", p.Name, err)
				plotErr = msg
			}
			return false
		}
		return true
	}
	cfg.Evaluated = func(*train.Result) { drawPlot() }
	cfg.Progress = stdout
	cfg.Stop = stop

	model := m.New(cfg.Seed)
	res, err := train.Run(model, cfg, trainData, heldOut)
	trained()
	// The result is written when training ends, before the sample.
	if code := report(train.NewReport(res, err, m.NumParams)); err == nil && code != exitOK {
		return code
	}
	if err != nil {
		return fail("%v", err)
	}
	plotted := drawPlot()
	sampleCmd := sampleCommand(p)
	if res.Hurdled {
		h := res.Hurdle
		fmt.Fprintf(stdout, "%s: stopped at the hurdle after step %d (%s of training): held-out %.3f bits per byte is above -hurdle-bpb %g; checkpoint saved to %s\n",
			p.Name, h.Step, h.Elapsed.Round(time.Millisecond), h.BPB, cfg.HurdleBPB, cfg.Checkpoint)
		return exitOK
	}
	if res.Stopped {
		fmt.Fprintf(stdout, "%s: stopped after step %d; checkpoint saved to %s\n", p.Name, res.LastStep, cfg.Checkpoint)
		if plotted {
			fmt.Fprintf(stdout, "loss plot: %s\n", o.plotPath)
		}
		fmt.Fprintf(stdout, "resume with:\n  %s %s\nsample with:\n  %s %s\n", p.Command, resumeArgs(o.fs, cfg.Checkpoint), sampleCmd, shellQuote(cfg.Checkpoint))
		return exitOK
	}
	fmt.Fprintf(stdout, "%s: %d steps in %s, %.0f tokens/s; held-out %.3f bits per byte (uniform is 8); checkpoint %s\n",
		p.Name, res.Steps, res.Elapsed.Round(time.Second), res.TokensPerSec, res.HeldOutBPB, cfg.Checkpoint)
	if lw != nil {
		fmt.Fprintf(stdout, "training log: %s\n", o.logPath)
	}
	if plotted {
		fmt.Fprintf(stdout, "loss plot: %s\n", o.plotPath)
	}
	if o.sampleLen > 0 {
		out, err := generate(model, m, []byte(o.prompt), o.sampleLen, o.temp, o.topP, cfg.Seed)
		if err != nil {
			return fail("sampling: %v", err)
		}
		fmt.Fprintf(stdout, "\n--- sample (temperature %.2f, top-p %.2f) ---\n%s\n", o.temp, o.topP, out)
		fmt.Fprintf(stdout, "---\nmore samples: %s %s\n", sampleCmd, shellQuote(cfg.Checkpoint))
	}
	return exitOK
}

// measure runs -measure-steps: it times training steps of a fresh model on
// the training corpus and reports them, without evaluation, checkpoint,
// log, plot or sample.
func measure(p Program, o *options, stdout io.Writer, stop <-chan struct{}, trained func(), report func(*train.Report) int, fail func(string, ...any) int) int {
	m, cfg := o.model, o.cfg
	trainData, heldOut, desc, err := corpus(o.paths, o.heldOut, o.maxBytes)
	if err != nil {
		return fail("%v", err)
	}
	defer trainData.Close()
	defer heldOut.Close()
	fmt.Fprintf(stdout, "%s: %s model, %d parameters; timing %d training steps after %d warm-up on %s, GOMAXPROCS %d\n",
		p.Name, m.Name, m.NumParams, o.measureSteps, o.measureWarmup, desc, runtime.GOMAXPROCS(0))
	cfg.Stop = stop
	ms, err := train.Measure(m.New(cfg.Seed), cfg, trainData, o.measureWarmup, o.measureSteps)
	trained()
	if code := report(train.MeasureReport(ms, err, m.NumParams)); err == nil && code != exitOK {
		return code
	}
	if err != nil {
		return fail("%v", err)
	}
	if ms.Stopped {
		fmt.Fprintf(stdout, "%s: stopped after %d timed steps\n", p.Name, len(ms.StepTimes))
		return exitOK
	}
	fmt.Fprintf(stdout, "%s: median %s per step over %d steps\n", p.Name, ms.Median, len(ms.StepTimes))
	return exitOK
}

// generate samples n bytes after prompt. Models whose routing needs a whole
// batch (expert choice by position) decode MaxBatch copies in lockstep;
// others decode one.
func generate(tm train.Model, m *Model, prompt []byte, n int, temp, topP float64, seed uint64) ([]byte, error) {
	if len(prompt) == 0 {
		return nil, errors.New("the prompt is empty: pass -prompt with some text")
	}
	ctx := min(len(prompt), m.MaxSeq)
	probe := make([]int32, ctx)
	for i, b := range prompt[len(prompt)-ctx:] {
		probe[i] = int32(b)
	}
	batch := 1
	if _, err := tm.Infer(probe, 1, ctx); err != nil {
		batch = m.MaxBatch
	}
	return train.Generate(tm, prompt, n, batch, m.MaxSeq, temp, topP, tensor.NewRNG(seed))
}

// sampleCommand is how a user samples a checkpoint of p.
func sampleCommand(p Program) string {
	if p.Sample != "" {
		return p.Sample
	}
	return p.Command + " sample"
}

// resumeArgs returns the flags set on the command line and the files
// named, with -resume ckpt in front of them, shell-quoted.
func resumeArgs(fs *flag.FlagSet, ckpt string) string {
	out := []string{"-resume", ckpt}
	fs.Visit(func(f *flag.Flag) {
		if f.Name != "resume" {
			out = append(out, "-"+f.Name+"="+f.Value.String())
		}
	})
	for _, a := range fs.Args() {
		if strings.HasPrefix(a, "-") {
			out = append(out, "--")
			break
		}
	}
	out = append(out, fs.Args()...)
	for i, a := range out {
		out[i] = shellQuote(a)
	}
	return strings.Join(out, " ")
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
