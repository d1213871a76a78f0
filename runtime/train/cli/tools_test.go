package cli

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bfcdev/bfc/runtime/train"
)

// readResult reads a -result file.
func readResult(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return rec
}

func sortedKeys(rec map[string]any) string {
	var k []string
	for key := range rec {
		k = append(k, key)
	}
	slices.Sort(k)
	return strings.Join(k, " ")
}

const runKeys = "elapsed_s gomaxprocs heldout_bpb params status steps tokens tokens_per_s train_loss"

// heldOutOf evaluates the parameters of a checkpoint on the held-out part
// of the corpus as the trainer splits it.
func heldOutOf(t *testing.T, ckpt, corpusPath string, batch, seq int) float64 {
	t.Helper()
	m := newBigram(1)
	if err := train.LoadParams(m, ckpt); err != nil {
		t.Fatal(err)
	}
	tr, ho, _, err := corpus([]string{corpusPath}, 0.3, 32<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	defer ho.Close()
	bpb, err := train.Evaluate(m, ho, batch, seq, 1)
	if err != nil {
		t.Fatal(err)
	}
	return bpb
}

func TestResultOK(t *testing.T) {
	dir := t.TempDir()
	ckpt, result, corpus := filepath.Join(dir, "c.safetensors"), filepath.Join(dir, "out", "r.json"), corpusDir(t)
	var out, errb bytes.Buffer
	if code := Train(testProgram(), []string{"-steps", "12", "-lr", "0.3", "-eval-batches", "1", "-heldout", "0.3", "-sample", "0",
		"-ckpt", ckpt, "-result", result, corpus}, &out, &errb, nil, func() {}); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	rec := readResult(t, result)
	tokens, el := rec["tokens"].(float64), rec["elapsed_s"].(float64)
	if sortedKeys(rec) != runKeys || rec["status"] != "ok" || rec["steps"].(float64) != 12 || tokens != 12*4*16 ||
		rec["params"].(float64) != 256*256 || rec["gomaxprocs"].(float64) != float64(runtime.GOMAXPROCS(0)) ||
		!(el > 0) || rec["tokens_per_s"].(float64) != tokens/el || !(rec["train_loss"].(float64) > 0) {
		t.Fatalf("result %v", rec)
	}
	if want := heldOutOf(t, ckpt, corpus, 4, 16); rec["heldout_bpb"].(float64) != want {
		t.Fatalf("heldout_bpb %v; the checkpoint evaluates to %v", rec["heldout_bpb"], want)
	}
	if ents, _ := os.ReadDir(filepath.Dir(result)); len(ents) != 1 {
		t.Fatalf("beside the result: %v", ents)
	}
}

func TestResultFailedAndStopped(t *testing.T) {
	dir := t.TempDir()
	result := filepath.Join(dir, "r.json")
	args := []string{"-steps", "10", "-eval-batches", "1", "-heldout", "0.3", "-sample", "0", "-ckpt", filepath.Join(dir, "c.safetensors"), "-result", result}

	// The third Forward returns NaN: -nonfinite stop fails at step 3.
	p := testProgram()
	p.Models[0].New = func(seed uint64) train.Model { return &nanModel{bigram: newBigram(seed).(*bigram), n: 2} }
	var out, errb bytes.Buffer
	if code := Train(p, append(args, corpusDir(t)), &out, &errb, nil, func() {}); code != 1 {
		t.Fatalf("NaN: exit %d, want 1: %s", code, errb.String())
	}
	rec := readResult(t, result)
	if sortedKeys(rec) != "elapsed_s error "+runKeys[len("elapsed_s "):] || rec["status"] != "failed" ||
		!strings.HasPrefix(rec["error"].(string), "step 3: the loss is NaN") || rec["steps"].(float64) != 2 || rec["tokens"].(float64) != 2*4*16 {
		t.Fatalf("NaN: %v", rec)
	}
	if !strings.Contains(errb.String(), rec["error"].(string)) {
		t.Fatalf("stderr %q lacks the result's error", errb.String())
	}

	// A corpus that is not there fails before training.
	missing := filepath.Join(dir, "no-such-dir")
	if code := Train(testProgram(), append(args, missing), &out, &errb, nil, func() {}); code != 1 {
		t.Fatalf("missing corpus: exit %d", code)
	}
	if rec := readResult(t, result); rec["status"] != "failed" || !strings.Contains(rec["error"].(string), missing) || rec["steps"].(float64) != 0 {
		t.Fatalf("missing corpus: %v", rec)
	}

	stop := make(chan struct{})
	close(stop)
	if code := Train(testProgram(), append(args, corpusDir(t)), &out, &errb, stop, func() {}); code != 0 {
		t.Fatalf("stopped: exit %d", code)
	}
	if rec := readResult(t, result); sortedKeys(rec) != runKeys || rec["status"] != "stopped" || rec["steps"].(float64) != 0 ||
		rec["heldout_bpb"] != nil || rec["train_loss"] != nil {
		t.Fatalf("stopped: %v", rec)
	}
}

// panicky panics in its third Forward.
type panicky struct {
	*bigram
	calls int
}

func (m *panicky) Forward(tokens, targets []int32, batch, seq int) (float32, error) {
	if m.calls++; m.calls == 3 {
		panic("index out of range in the model")
	}
	return m.bigram.Forward(tokens, targets, batch, seq)
}

func TestResultOnPanic(t *testing.T) {
	dir := t.TempDir()
	result := filepath.Join(dir, "r.json")
	p := testProgram()
	p.Models[0].New = func(seed uint64) train.Model { return &panicky{bigram: newBigram(seed).(*bigram)} }
	var out, errb bytes.Buffer
	func() {
		defer func() {
			if r := recover(); r != "index out of range in the model" {
				t.Fatalf("recovered %v; want the model's panic to go on", r)
			}
		}()
		Train(p, []string{"-steps", "5", "-eval-batches", "1", "-heldout", "0.3", "-sample", "0", "-ckpt", filepath.Join(dir, "c.safetensors"),
			"-result", result, corpusDir(t)}, &out, &errb, nil, func() {})
	}()
	if rec := readResult(t, result); rec["status"] != "failed" || rec["error"] != "panic: index out of range in the model" {
		t.Fatalf("result %v", rec)
	}
}

// slow is a bigram model whose Backward takes 2 ms or more.
type slow struct{ *bigram }

func (m slow) Backward() { time.Sleep(2 * time.Millisecond); m.bigram.Backward() }

func TestResultHurdle(t *testing.T) {
	dir := t.TempDir()
	ckpt, result, logPath, corpus := filepath.Join(dir, "c.safetensors"), filepath.Join(dir, "r.json"), filepath.Join(dir, "c.jsonl"), corpusDir(t)
	p := testProgram()
	p.Models[0].New = func(seed uint64) train.Model { return slow{newBigram(seed).(*bigram)} }
	var out, errb bytes.Buffer
	if code := Train(p, []string{"-steps", "100000", "-time", "1s", "-hurdle", "0.04", "-hurdle-bpb", "0.001", "-eval-batches", "1",
		"-heldout", "0.3", "-sample", "0", "-ckpt", ckpt, "-result", result, corpus}, &out, &errb, nil, func() {}); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	rec := readResult(t, result)
	if sortedKeys(rec) != "elapsed_s gomaxprocs heldout_bpb hurdle_bpb hurdle_elapsed_s hurdle_step params status steps tokens tokens_per_s train_loss" ||
		rec["status"] != "hurdle" || rec["steps"] != rec["hurdle_step"] || rec["heldout_bpb"] != rec["hurdle_bpb"] || rec["hurdle_elapsed_s"].(float64) < 0.04 {
		t.Fatalf("result %v", rec)
	}
	if want := heldOutOf(t, ckpt, corpus, 4, 16); rec["hurdle_bpb"].(float64) != want {
		t.Fatalf("hurdle_bpb %v; the checkpoint evaluates to %v", rec["hurdle_bpb"], want)
	}
	md, err := train.ReadMetadata(ckpt)
	if err != nil || md["bfc.train.step"] != strconv.Itoa(int(rec["hurdle_step"].(float64))) {
		t.Fatalf("checkpoint at step %q (%v), hurdle at %v", md["bfc.train.step"], err, rec["hurdle_step"])
	}
	text, _ := os.ReadFile(logPath)
	if !strings.Contains(string(text), `"hurdle":true`) || !strings.Contains(string(text), `"hurdle_passed":false`) || strings.Contains(string(text), `"final":true`) {
		t.Fatalf("log:\n%s", text)
	}
	if !strings.Contains(out.String(), "stopped at the hurdle after step") {
		t.Fatalf("output:\n%s", out.String())
	}
}

// tally is a bigram model that counts its passes.
type tally struct {
	*bigram
	forwards, backwards *int
}

func (m tally) Forward(tokens, targets []int32, batch, seq int) (float32, error) {
	*m.forwards++
	return m.bigram.Forward(tokens, targets, batch, seq)
}

func (m tally) Backward() { *m.backwards++; m.bigram.Backward() }

func TestMeasureSteps(t *testing.T) {
	dir := t.TempDir()
	result := filepath.Join(dir, "r.json")
	var forwards, backwards int
	p := testProgram()
	p.Models[0].New = func(seed uint64) train.Model {
		return tally{bigram: newBigram(seed).(*bigram), forwards: &forwards, backwards: &backwards}
	}
	var out, errb bytes.Buffer
	if code := Train(p, []string{"-measure-steps", "4", "-measure-warmup", "2", "-heldout", "0.3", "-ckpt", filepath.Join(dir, "c.safetensors"),
		"-result", result, corpusDir(t)}, &out, &errb, nil, func() {}); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	rec := readResult(t, result)
	if sortedKeys(rec) != "gomaxprocs median_step_s params status step_times_s" || rec["status"] != "measured" ||
		rec["params"].(float64) != 256*256 || rec["gomaxprocs"].(float64) != float64(runtime.GOMAXPROCS(0)) {
		t.Fatalf("result %v", rec)
	}
	var times []float64
	for _, v := range rec["step_times_s"].([]any) {
		times = append(times, v.(float64))
	}
	slices.Sort(times)
	if len(times) != 4 || !(times[0] > 0) || math.Abs(rec["median_step_s"].(float64)-(times[1]+times[2])/2) > 1e-9 {
		t.Fatalf("step times %v, median %v", times, rec["median_step_s"])
	}
	if forwards != 6 || backwards != 6 {
		t.Fatalf("%d forward and %d backward passes, want 6 training steps and no evaluation", forwards, backwards)
	}
	// No checkpoint, log or plot.
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("files written: %v", ents)
	}
	if strings.Contains(out.String(), "---") {
		t.Fatalf("a sample:\n%s", out.String())
	}
}

func TestToolFlagErrors(t *testing.T) {
	dir := t.TempDir()
	result := filepath.Join(dir, "r.json")
	notes := filepath.Join(dir, "notes.txt")
	os.WriteFile(notes, []byte("my notes\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-time", "1m", "-hurdle", "1"}, "-hurdle 1: must be between 0 and 1"},
		{[]string{"-time", "1m", "-hurdle", "0"}, "-hurdle 0: must be between 0 and 1"},
		{[]string{"-time", "1m", "-hurdle", "-0.2"}, "-hurdle -0.2: must be between 0 and 1"},
		{[]string{"-hurdle", "0.2"}, "-hurdle 0.2 needs -time"},
		{[]string{"-time", "1m", "-hurdle", "0.2", "-hurdle-bpb", "0"}, "-hurdle-bpb 0: must be a positive number"},
		{[]string{"-time", "1m", "-hurdle", "0.2", "-hurdle-bpb", "NaN"}, "-hurdle-bpb NaN: must be a positive number"},
		{[]string{"-time", "1m", "-hurdle-bpb", "2"}, "-hurdle-bpb 2 needs -hurdle"},
		{[]string{"-measure-steps", "-1"}, "-measure-steps -1: must be 0"},
		{[]string{"-measure-steps", "3", "-measure-warmup", "-1"}, "-measure-warmup -1: must be 0"},
		{[]string{"-measure-warmup", "2"}, "-measure-warmup 2 needs -measure-steps"},
		{[]string{"-measure-steps", "3", "-resume", notes}, "-measure-steps 3: not with -resume"},
		{[]string{"-measure-steps", "3", "-time", "1m", "-hurdle", "0.5"}, "-hurdle 0.5: not with -measure-steps"},
		{[]string{"-ckpt", filepath.Join(dir, "c.safetensors"), "-result", filepath.Join(dir, "c.safetensors")}, "-result " + filepath.Join(dir, "c.safetensors") + ": must name a file other than"},
		{[]string{"-result", notes}, "-result: " + notes + " exists and was not written by the trainer"},
	} {
		args := c.args
		if !slices.Contains(args, "-result") {
			args = append(args, "-result", result)
		}
		var out, errb bytes.Buffer
		if code := Train(testProgram(), args, &out, &errb, nil, func() {}); code != 2 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, errb.String(), c.want)
		}
	}
	if _, err := os.Stat(result); !os.IsNotExist(err) {
		t.Fatalf("bad flags wrote a result: %v", err)
	}
	if b, _ := os.ReadFile(notes); string(b) != "my notes\n" {
		t.Fatalf("notes.txt changed: %q", b)
	}
}
