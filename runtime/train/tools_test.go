package train

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bfcdev/bfc/runtime/optim"
)

// counted is a bigram model that counts its passes and sleeps in Backward:
// delay(n) before the nth backward pass (from 1; nil: no sleep).
type counted struct {
	*bigram
	forwards, backwards int
	delay               func(n int) time.Duration
}

func (m *counted) Forward(tokens, targets []int32, batch, seq int) (float32, error) {
	m.forwards++
	return m.bigram.Forward(tokens, targets, batch, seq)
}

func (m *counted) Backward() {
	m.backwards++
	if m.delay != nil {
		time.Sleep(m.delay(m.backwards))
	}
	m.bigram.Backward()
}

func every(d time.Duration) func(int) time.Duration { return func(int) time.Duration { return d } }

// TestMeasureTimesRunSteps checks that Measure's steps are Run's steps
// (warm-up and timed steps together leave the parameters bit-identical to
// Run's after as many steps), that only the steps after the warm-up are
// timed, one by one, and that nothing is evaluated.
func TestMeasureTimesRunSteps(t *testing.T) {
	const warmup, steps = 2, 3
	for _, opt := range []string{"adamw", "adafactor"} {
		cfg := bigramConfig()
		cfg.Steps, cfg.Optimizer, cfg.Clip = warmup+steps, opt, 0.5
		ran := newBigram()
		if _, err := Run(ran, cfg, bigramCorpus(), bigramCorpus()); err != nil {
			t.Fatal(err)
		}
		// Timed step i sleeps 4(i+1) ms in Backward, warm-up steps none.
		delay := func(n int) time.Duration {
			if n <= warmup {
				return 0
			}
			return time.Duration(4*(n-warmup)) * time.Millisecond
		}
		m := &counted{bigram: newBigram(), delay: delay}
		ms, err := Measure(m, cfg, bigramCorpus(), warmup, steps)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(m.w, ran.w) {
			t.Fatalf("%s: %d measured steps left other parameters than %d steps of Run", opt, warmup+steps, warmup+steps)
		}
		if m.forwards != warmup+steps || m.backwards != warmup+steps {
			t.Fatalf("%s: %d forward and %d backward passes, want %d of each (no evaluation)", opt, m.forwards, m.backwards, warmup+steps)
		}
		if len(ms.StepTimes) != steps {
			t.Fatalf("%s: %d step times, want %d", opt, len(ms.StepTimes), steps)
		}
		for i, d := range ms.StepTimes {
			if want := delay(warmup + i + 1); d < want {
				t.Errorf("%s: timed step %d took %v, less than the %v it sleeps", opt, i, d, want)
			}
		}
		sorted := slices.Clone(ms.StepTimes)
		sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
		if ms.Median != sorted[1] || ms.Stopped || ms.Skipped != 0 {
			t.Fatalf("%s: median %v of %v, stopped %v, skipped %d", opt, ms.Median, ms.StepTimes, ms.Stopped, ms.Skipped)
		}
	}
}

func TestMeasureErrorsAndStop(t *testing.T) {
	c := bigramCorpus()
	cfg := bigramConfig()
	for _, ws := range [][2]int{{-1, 3}, {0, 0}} {
		if _, err := Measure(newBigram(), cfg, c, ws[0], ws[1]); err == nil {
			t.Errorf("Measure accepted %d warm-up and %d timed steps", ws[0], ws[1])
		}
	}
	bad := cfg
	bad.Batch = 0
	if _, err := Measure(newBigram(), bad, c, 1, 1); err == nil {
		t.Error("Measure accepted batch 0")
	}
	// A NaN gradient on step 4 (the second timed step) under "stop".
	m := &poisoned{bigram: newBigram(), steps: map[int]bool{4: true}}
	ms, err := Measure(m, cfg, c, 2, 5)
	if err == nil || !strings.Contains(err.Error(), "step 4: the gradient of w is not finite") || len(ms.StepTimes) != 1 {
		t.Fatalf("got %v with %v; want an error naming step 4 after 1 timed step", err, ms)
	}
	// Under "skip" the step is skipped and still timed.
	m = &poisoned{bigram: newBigram(), steps: map[int]bool{4: true}}
	cfg.NonFinite = "skip"
	ms, err = Measure(m, cfg, c, 2, 5)
	if err != nil || ms.Skipped != 1 || len(ms.StepTimes) != 5 {
		t.Fatalf("skip: %v, %+v", err, ms)
	}
	stop := make(chan struct{})
	close(stop)
	cfg.Stop = stop
	ms, err = Measure(newBigram(), cfg, c, 2, 5)
	if err != nil || !ms.Stopped || len(ms.StepTimes) != 0 || ms.Median != 0 {
		t.Fatalf("stopped: %v, %+v", err, ms)
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []time.Duration
		want time.Duration
	}{{nil, 0}, {[]time.Duration{5}, 5}, {[]time.Duration{9, 1, 5}, 5}, {[]time.Duration{8, 2, 4, 100}, 6}} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

// logLines parses a JSON-lines log.
func logLines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, rec)
	}
	return out
}

// TestHurdleStops sets a bar no model reaches: the run ends at the first
// step past the hurdle time, with the parameters of then, a checkpoint and
// no final evaluation.
func TestHurdleStops(t *testing.T) {
	dir := t.TempDir()
	m := &counted{bigram: newBigram(), delay: every(2 * time.Millisecond)}
	var log bytes.Buffer
	cfg := bigramConfig()
	cfg.Steps, cfg.Duration, cfg.Hurdle, cfg.HurdleBPB = 100000, 400*time.Millisecond, 0.1, 0.01
	cfg.Log, cfg.LogEvery, cfg.EvalBatches = &log, 1, 2
	cfg.Checkpoint = filepath.Join(dir, "c.safetensors")
	res, err := Run(m, cfg, bigramCorpus(), bigramCorpus())
	if err != nil {
		t.Fatal(err)
	}
	h := res.Hurdle
	if !res.Hurdled || h == nil || res.Stopped {
		t.Fatalf("hurdled %v, hurdle %+v, stopped %v; want the hurdle to end the run", res.Hurdled, h, res.Stopped)
	}
	hurdleAt := time.Duration(cfg.Hurdle * float64(cfg.Duration))
	if h.Elapsed < hurdleAt || res.Elapsed < h.Elapsed || res.Steps != h.Step || res.LastStep != h.Step {
		t.Fatalf("hurdle after step %d at %v (want ≥ %v); run ended after step %d at %v", h.Step, h.Elapsed, hurdleAt, res.Steps, res.Elapsed)
	}
	// The parameters are those of the hurdle: evaluating them again gives
	// its value, which is the run's held-out result.
	bpb, err := Evaluate(m.bigram, bigramCorpus(), cfg.Batch, cfg.Seq, cfg.EvalBatches)
	if err != nil || bpb != h.BPB || res.HeldOutBPB != h.BPB {
		t.Fatalf("hurdle %v, held-out %v, evaluated again %v (%v)", h.BPB, res.HeldOutBPB, bpb, err)
	}
	if m.backwards != h.Step {
		t.Fatalf("%d backward passes for %d steps", m.backwards, h.Step)
	}
	lines := logLines(t, log.Bytes())
	last := lines[len(lines)-1]
	if last["hurdle"] != true || last["hurdle_passed"] != false || last["final"] != false || last["step"].(float64) != float64(h.Step) ||
		last["heldout_bpb"].(float64) != h.BPB || last["hurdle_max_bpb"].(float64) != cfg.HurdleBPB {
		t.Fatalf("last log line %v", last)
	}
	// The step before the hurdle's was still short of its time.
	before := lines[len(lines)-3] // the hurdle step's training line, then this
	if before["step"].(float64) != float64(h.Step-1) || before["elapsed_s"].(float64) >= hurdleAt.Seconds() {
		t.Fatalf("the hurdle came at step %d, but the log has %v before it", h.Step, before)
	}
	for _, rec := range lines {
		if rec["final"] == true {
			t.Fatalf("a final evaluation after the hurdle: %v", rec)
		}
	}
	md, err := ReadMetadata(cfg.Checkpoint)
	if err != nil || md["bfc.train.step"] != strconv.Itoa(h.Step) {
		t.Fatalf("checkpoint at step %q (%v), want %d", md["bfc.train.step"], err, h.Step)
	}
}

// TestHurdlePassesWithoutCountingItsTime passes the hurdle, whose
// evaluation takes longer (a slow Evaluated) than the whole budget: the run
// goes on to the end of the budget in training time, and the learning rate
// after the hurdle follows the training time, not the wall clock.
func TestHurdlePassesWithoutCountingItsTime(t *testing.T) {
	const pause = 300 * time.Millisecond
	m := &counted{bigram: newBigram(), delay: every(2 * time.Millisecond)}
	var log bytes.Buffer
	cfg := bigramConfig()
	cfg.Steps, cfg.Warmup, cfg.Duration, cfg.Hurdle, cfg.HurdleBPB = 100000, 0, 300*time.Millisecond, 0.2, 100
	cfg.Log, cfg.LogEvery = &log, 1
	evals := 0
	cfg.Evaluated = func(r *Result) {
		if evals++; evals == 1 {
			time.Sleep(pause)
		}
	}
	wall := time.Now()
	res, err := Run(m, cfg, bigramCorpus(), bigramCorpus())
	wallTime := time.Since(wall)
	if err != nil {
		t.Fatal(err)
	}
	h := res.Hurdle
	if res.Hurdled || h == nil || evals != 2 {
		t.Fatalf("hurdled %v, hurdle %+v, %d evaluations; want the hurdle passed and a final evaluation", res.Hurdled, h, evals)
	}
	// Training went on after the hurdle until the budget ran out, and the
	// pause is not training time.
	if res.Elapsed < cfg.Duration || res.Steps <= h.Step || wallTime-res.Elapsed < pause {
		t.Fatalf("ran %v of wall time, %v of training time, %d steps after the hurdle at step %d; want ≥ %v of training, some steps, a %v pause left out",
			wallTime, res.Elapsed, res.Steps-h.Step, h.Step, cfg.Duration, pause)
	}
	// The cosine over the budget estimates the total steps from the pace:
	// the step after the hurdle computed its rate before it logged its
	// elapsed time, so its rate is at least the one of that elapsed time.
	for _, rec := range logLines(t, log.Bytes()) {
		if rec["step"].(float64) != float64(h.Step+1) || rec["lr"] == nil {
			continue
		}
		s, el := h.Step+1, rec["elapsed_s"].(float64)
		total := max(s, int(float64(s)/(el/cfg.Duration.Seconds())))
		want := optim.WarmupCosine{Peak: cfg.LR, Min: cfg.MinLR, Warmup: cfg.Warmup, Total: min(total, cfg.Steps)}.LR(s)
		if lr := rec["lr"].(float64); lr < want {
			t.Fatalf("step %d after the hurdle (training time %vs): learning rate %v, below %v", s, el, lr, want)
		}
		return
	}
	t.Fatalf("no training log line for step %d", h.Step+1)
}

// TestHurdleChangesNothing: a hurdle passed leaves the training as it was
// without one (a step schedule, the step cap ends the run).
func TestHurdleChangesNothing(t *testing.T) {
	cfg := bigramConfig()
	cfg.Steps, cfg.Schedule, cfg.Duration, cfg.EvalEvery = 40, "invsqrt", 10*time.Second, 7
	plain := &counted{bigram: newBigram(), delay: every(time.Millisecond)}
	if _, err := Run(plain, cfg, bigramCorpus(), bigramCorpus()); err != nil {
		t.Fatal(err)
	}
	cfg.Hurdle, cfg.HurdleBPB = 0.002, 100 // 20 ms
	hurdled := &counted{bigram: newBigram(), delay: every(time.Millisecond)}
	res, err := Run(hurdled, cfg, bigramCorpus(), bigramCorpus())
	if err != nil {
		t.Fatal(err)
	}
	if res.Hurdle == nil || res.Hurdled || res.Steps != cfg.Steps {
		t.Fatalf("hurdle %+v, hurdled %v, %d steps", res.Hurdle, res.Hurdled, res.Steps)
	}
	if !slices.Equal(plain.w, hurdled.w) {
		t.Fatal("passing the hurdle changed the training")
	}
}

// nanEval returns NaN from a Forward that follows another Forward: the
// second batch of an evaluation.
type nanEval struct {
	*bigram
	inRow int
}

func (m *nanEval) Forward(tokens, targets []int32, batch, seq int) (float32, error) {
	loss, err := m.bigram.Forward(tokens, targets, batch, seq)
	if m.inRow++; m.inRow > 1 {
		return float32(math.NaN()), err
	}
	return loss, err
}

func (m *nanEval) Backward() { m.inRow = 0; m.bigram.Backward() }

func TestHurdleNaNFails(t *testing.T) {
	cfg := bigramConfig()
	cfg.Steps, cfg.Duration, cfg.Hurdle, cfg.HurdleBPB, cfg.EvalBatches = 100000, time.Hour, 1e-9, 100, 2
	res, err := Run(&nanEval{bigram: newBigram()}, cfg, bigramCorpus(), bigramCorpus())
	if err != nil {
		t.Fatal(err)
	}
	if !res.Hurdled || res.Hurdle == nil || !math.IsNaN(res.Hurdle.BPB) || res.Steps != 1 {
		t.Fatalf("hurdled %v, hurdle %+v after %d steps; want a NaN to fail the hurdle after step 1", res.Hurdled, res.Hurdle, res.Steps)
	}
}

// TestHurdleResumedPast: a run resumed after its hurdle time has no hurdle.
func TestHurdleResumedPast(t *testing.T) {
	ckpt := filepath.Join(t.TempDir(), "c.safetensors")
	m := &stopping{bigram: newBigram(), n: 3, stop: make(chan struct{})}
	cfg := bigramConfig()
	cfg.Steps, cfg.Duration, cfg.Checkpoint, cfg.Stop = 6, time.Hour, ckpt, m.stop
	first, err := Run(m, cfg, bigramCorpus(), bigramCorpus())
	if err != nil || !first.Stopped {
		t.Fatalf("%v, %+v", err, first)
	}
	cfg.Resume, cfg.Stop = ckpt, nil
	cfg.Hurdle = (first.Elapsed / 2).Seconds() / cfg.Duration.Seconds()
	res, err := Run(newBigram(), cfg, bigramCorpus(), bigramCorpus())
	if err != nil || res.Hurdle != nil || res.Steps != 6 {
		t.Fatalf("resumed past the hurdle: %v, hurdle %+v, %d steps", err, res.Hurdle, res.Steps)
	}
}

func TestHurdleConfigErrors(t *testing.T) {
	for _, c := range []struct {
		hurdle, bpb float64
		budget      time.Duration
		want        string
	}{
		{1, 0, time.Second, "hurdle 1: want a fraction"},
		{-0.5, 0, time.Second, "hurdle -0.5"},
		{math.NaN(), 0, time.Second, "hurdle NaN"},
		{0.5, 0, 0, "needs a time budget"},
		{0.5, -1, time.Second, "hurdle bits per byte -1"},
		{0, 2, time.Second, "hurdle bits per byte 2 needs a hurdle"},
	} {
		cfg := bigramConfig()
		cfg.Hurdle, cfg.HurdleBPB, cfg.Duration = c.hurdle, c.bpb, c.budget
		if _, err := Run(newBigram(), cfg, bigramCorpus(), bigramCorpus()); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("hurdle %v, bar %v, budget %v: got %v, want %q", c.hurdle, c.bpb, c.budget, err, c.want)
		}
	}
}

// decode writes r with WriteFile and reads the object back.
func decode(t *testing.T, r *Report) map[string]any {
	t.Helper()
	path := filepath.Join(t.TempDir(), "r.json")
	if err := r.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil || back.Status != r.Status || back.Steps != r.Steps || back.Error != r.Error {
		t.Fatalf("decoding %s into a Report: %+v, %v", b, back, err)
	}
	return rec
}

// keys returns the keys of rec, sorted, or of want and more.
func keys(rec map[string]any, more ...string) string {
	var k []string
	if rec == nil {
		k = append(strings.Fields(runKeys), more...)
	}
	for key := range rec {
		k = append(k, key)
	}
	slices.Sort(k)
	return strings.Join(k, " ")
}

const runKeys = "elapsed_s gomaxprocs heldout_bpb params status steps tokens tokens_per_s train_loss"

func TestReportOfRuns(t *testing.T) {
	cfg := bigramConfig()
	m := newBigram()
	res, err := Run(m, cfg, bigramCorpus(), bigramCorpus())
	if err != nil {
		t.Fatal(err)
	}
	rec := decode(t, NewReport(res, nil, 65536))
	bpb, _ := Evaluate(m, bigramCorpus(), cfg.Batch, cfg.Seq, cfg.EvalBatches)
	tokens, el := rec["tokens"].(float64), rec["elapsed_s"].(float64)
	if keys(rec) != runKeys || rec["status"] != "ok" || rec["steps"].(float64) != 8 || tokens != 8*2*16 ||
		rec["heldout_bpb"].(float64) != bpb || rec["params"].(float64) != 65536 || rec["gomaxprocs"].(float64) != float64(runtime.GOMAXPROCS(0)) ||
		el <= 0 || math.Abs(rec["tokens_per_s"].(float64)-tokens/el) > 1e-9*tokens/el || !(rec["train_loss"].(float64) > 0) {
		t.Fatalf("ok: %v", rec)
	}

	// A NaN gradient on step 3 under "stop".
	res, err = Run(&poisoned{bigram: newBigram(), steps: map[int]bool{3: true}}, cfg, bigramCorpus(), bigramCorpus())
	rec = decode(t, NewReport(res, err, 65536))
	if keys(rec) != keys(nil, "error") || rec["status"] != "failed" || !strings.HasPrefix(rec["error"].(string), "step 3: the gradient of w is not finite") ||
		rec["steps"].(float64) != 2 || rec["tokens"].(float64) != 2*2*16 || rec["heldout_bpb"] != nil {
		t.Fatalf("failed: %v", rec)
	}
	// Failed before training.
	rec = decode(t, NewReport(nil, os.ErrNotExist, 7))
	if keys(rec) != keys(nil, "error") || rec["status"] != "failed" || rec["steps"].(float64) != 0 || rec["train_loss"] != nil {
		t.Fatalf("failed early: %v", rec)
	}

	stop := make(chan struct{})
	close(stop)
	cfg.Stop = stop
	res, err = Run(newBigram(), cfg, bigramCorpus(), bigramCorpus())
	rec = decode(t, NewReport(res, err, 65536))
	if keys(rec) != runKeys || rec["status"] != "stopped" || rec["steps"].(float64) != 0 || rec["heldout_bpb"] != nil || rec["train_loss"] != nil {
		t.Fatalf("stopped: %v", rec)
	}

	res = &Result{Steps: 5, Tokens: 50, Elapsed: time.Second, HeldOutBPB: 3.5, TrainLoss: 2, Hurdled: true,
		Hurdle: &HurdleEval{Step: 5, Elapsed: 1500 * time.Millisecond, BPB: 3.5}}
	rec = decode(t, NewReport(res, nil, 1))
	if keys(rec) != keys(nil, "hurdle_bpb", "hurdle_elapsed_s", "hurdle_step") ||
		rec["status"] != "hurdle" || rec["hurdle_bpb"].(float64) != 3.5 || rec["hurdle_step"].(float64) != 5 || rec["hurdle_elapsed_s"].(float64) != 1.5 {
		t.Fatalf("hurdle: %v", rec)
	}
	res.Hurdle.BPB, res.Hurdled = math.NaN(), false
	if rec = decode(t, NewReport(res, nil, 1)); rec["status"] != "ok" || rec["hurdle_bpb"] != nil || rec["hurdle_step"].(float64) != 5 {
		t.Fatalf("NaN hurdle passed: %v", rec)
	}
}

func TestReportOfMeasure(t *testing.T) {
	ms := &Measurement{StepTimes: []time.Duration{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond}, Median: 2 * time.Millisecond}
	rec := decode(t, MeasureReport(ms, nil, 9))
	times := rec["step_times_s"].([]any)
	if keys(rec) != "gomaxprocs median_step_s params status step_times_s" || rec["status"] != "measured" || len(times) != 3 ||
		times[0].(float64) != 0.003 || rec["median_step_s"].(float64) != 0.002 || rec["params"].(float64) != 9 {
		t.Fatalf("measured: %v", rec)
	}
	rec = decode(t, MeasureReport(&Measurement{StepTimes: []time.Duration{}}, os.ErrClosed, 9))
	if keys(rec) != "error gomaxprocs median_step_s params status step_times_s" || rec["status"] != "failed" || rec["median_step_s"] != nil ||
		len(rec["step_times_s"].([]any)) != 0 {
		t.Fatalf("failed: %v", rec)
	}
}

func TestReportWriteFileIsAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.json")
	if err := os.WriteFile(path, []byte(`{"status":"old"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := NewReport(&Result{Steps: 3}, nil, 1).WriteFile(path); err != nil {
		t.Fatal(err)
	}
	var back Report
	if b, err := os.ReadFile(path); err != nil || json.Unmarshal(b, &back) != nil || back.Status != "ok" || back.Steps != 3 {
		t.Fatalf("replaced file: %+v (%v)", back, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("left behind: %v", ents)
	}
	if err := NewReport(nil, nil, 1).WriteFile(filepath.Join(dir, "no", "such", "r.json")); err == nil {
		t.Fatal("WriteFile into a missing directory succeeded")
	}
}

// TestEvalInterval: evaluations every EvalInterval of training time, each
// slower than the interval, are left off the clock: the run still trains
// for its whole budget, evaluates at each multiple of the interval, and
// logs each with its training time.
func TestEvalInterval(t *testing.T) {
	const pause = 60 * time.Millisecond
	m := &counted{bigram: newBigram(), delay: every(2 * time.Millisecond)}
	var log bytes.Buffer
	cfg := bigramConfig()
	cfg.Steps, cfg.Warmup, cfg.Duration, cfg.EvalInterval = 100000, 0, 400*time.Millisecond, 50*time.Millisecond
	cfg.Log, cfg.LogEvery = &log, 0
	evals := 0
	cfg.Evaluated = func(r *Result) { evals++; time.Sleep(pause) }
	wall := time.Now()
	res, err := Run(m, cfg, bigramCorpus(), bigramCorpus())
	wallTime := time.Since(wall)
	if err != nil {
		t.Fatal(err)
	}
	// 7 timed evaluations (50 ms … 350 ms) and the final one.
	if evals != 8 {
		t.Fatalf("%d evaluations, want 7 timed ones and the final one", evals)
	}
	if res.Elapsed < cfg.Duration || res.Elapsed > cfg.Duration+pause || wallTime < res.Elapsed+7*pause {
		t.Fatalf("%v of training in %v of wall time; want about %v of training and 7 pauses of %v beside it", res.Elapsed, wallTime, cfg.Duration, pause)
	}
	k := 0
	for _, rec := range logLines(t, log.Bytes()) {
		if rec["heldout_bpb"] == nil || rec["final"] == true {
			continue
		}
		k++
		el := rec["elapsed_s"].(float64)
		at := float64(k) * cfg.EvalInterval.Seconds()
		if el < at || el > at+0.03 {
			t.Fatalf("timed evaluation %d logged at %vs of training, want just after %vs", k, el, at)
		}
	}
	if k != 7 {
		t.Fatalf("%d timed evaluations logged, want 7", k)
	}
}

// TestEvalIntervalChangesNothing: timed evaluations leave a step-capped
// run's training as it was.
func TestEvalIntervalChangesNothing(t *testing.T) {
	cfg := bigramConfig()
	cfg.Steps, cfg.Schedule = 40, "invsqrt"
	plain := &counted{bigram: newBigram(), delay: every(time.Millisecond)}
	if _, err := Run(plain, cfg, bigramCorpus(), bigramCorpus()); err != nil {
		t.Fatal(err)
	}
	cfg.EvalInterval = 5 * time.Millisecond
	evals := 0
	cfg.Evaluated = func(*Result) { evals++ }
	timed := &counted{bigram: newBigram(), delay: every(time.Millisecond)}
	if _, err := Run(timed, cfg, bigramCorpus(), bigramCorpus()); err != nil {
		t.Fatal(err)
	}
	if evals < 3 || !slices.Equal(plain.w, timed.w) {
		t.Fatalf("%d evaluations; the training changed: %v", evals, !slices.Equal(plain.w, timed.w))
	}
}
