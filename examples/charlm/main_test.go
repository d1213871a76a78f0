package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bfcdev/bfc/runtime/safetensors"
)

// TestShortRun trains a few steps on this directory's files and checks that
// the run reports progress, evaluates, saves a loadable checkpoint and samples.
func TestShortRun(t *testing.T) {
	ckpt := filepath.Join(t.TempDir(), "ckpt.safetensors")
	logPath := filepath.Join(t.TempDir(), "log.jsonl")
	var out, errb bytes.Buffer
	code := run([]string{"-steps", "4", "-batch", "8", "-seq", "16", "-eval-every", "2", "-eval-batches", "1",
		"-heldout", "0.5", "-sample", "20", "-ckpt", ckpt, "-log", logPath, "."}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	for _, want := range []string{"parameters; training on", "step 4/4", "tok/s", "held-out", "bits per byte", "--- sample"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	f, err := safetensors.Load(ckpt)
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	if _, ok := f.Get("embed.tokens"); !ok {
		t.Fatalf("checkpoint lacks embed.tokens")
	}
	log, err := os.ReadFile(logPath)
	if err != nil || !bytes.Contains(log, []byte(`"heldout_bpb"`)) {
		t.Fatalf("training log: %v\n%s", err, log)
	}
}

// TestDenseShortRun trains the dense baseline a few steps and samples one
// sequence at a time.
func TestDenseShortRun(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"-arch", "dense", "-steps", "3", "-batch", "2", "-seq", "16", "-eval-batches", "1",
		"-heldout", "0.5", "-sample", "10", "-ckpt", filepath.Join(t.TempDir(), "d.safetensors"), "."}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "dense model") || strings.Contains(out.String(), "moe:") {
		t.Fatalf("dense run output:\n%s", out.String())
	}
}

// TestDefaultReportsRouting checks that the default model's progress
// shows routing statistics, top-k drops included.
func TestDefaultReportsRouting(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"-steps", "2", "-batch", "16", "-seq", "8", "-eval-batches", "1",
		"-heldout", "0.5", "-sample", "0", "-ckpt", filepath.Join(t.TempDir(), "b.safetensors"), "."}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, errb.String())
	}
	for _, want := range []string{"searched model", "moe: 0 experts", "blocks.0.moe1: load min/max", "dropped"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-batch", "-1"}, {"-batch", "1000"}, {"-seq", "1"}, {"-heldout", "1.5"}, {"-nosuchflag"}, {"-arch", "rnn"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, errb.String())
		}
		if errb.Len() == 0 {
			t.Errorf("%v: no message on stderr", args)
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{filepath.Join(t.TempDir(), "missing")}, &out, &errb); code != 1 || errb.Len() == 0 {
		t.Errorf("missing corpus: exit %d, stderr %q", code, errb.String())
	}
}

// interrupter passes output on and, when the progress first shows step 1,
// interrupts this process as Ctrl-C does.
type interrupter struct {
	bytes.Buffer
	sent bool
	t    *testing.T
}

func (w *interrupter) Write(p []byte) (int, error) {
	n, err := w.Buffer.Write(p)
	if !w.sent && strings.Contains(w.String(), "step 1/") {
		w.sent = true
		self, _ := os.FindProcess(os.Getpid())
		if err := self.Signal(os.Interrupt); err != nil {
			w.t.Errorf("sending an interrupt: %v", err)
		}
		time.Sleep(300 * time.Millisecond) // let the signal arrive before step 2
	}
	return n, err
}

// TestInterruptAndResume interrupts a run with SIGINT, runs the resume
// command it prints, and checks that the final checkpoint matches that of
// a run never interrupted, bit for bit.
func TestInterruptAndResume(t *testing.T) {
	dir := t.TempDir()
	common := []string{"-steps", "6", "-batch", "8", "-seq", "16", "-eval-every", "4", "-eval-batches", "1",
		"-heldout", "0.5", "-sample", "0", "-warmup", "2", "-max-bytes", "200000"}
	straight := filepath.Join(dir, "straight.safetensors")
	var out, errb bytes.Buffer
	if code := run(append(append([]string{}, common...), "-ckpt", straight, "."), &out, &errb); code != 0 {
		t.Fatalf("straight run: exit %d\n%s%s", code, out.String(), errb.String())
	}

	ckpt := filepath.Join(dir, "ckpt.safetensors")
	w := &interrupter{t: t}
	errb.Reset()
	if code := run(append(append([]string{}, common...), "-ckpt", ckpt, "."), w, &errb); code != 0 {
		t.Fatalf("interrupted run: exit %d\n%s%s", code, w.String(), errb.String())
	}
	_, cmd, ok := strings.Cut(w.String(), "resume with:\n  go run ./examples/charlm ")
	if !ok || !strings.Contains(w.String(), "charlm: stopped after step ") {
		t.Fatalf("the interrupted run does not say how to resume:\n%s", w.String())
	}
	cmd, _, _ = strings.Cut(cmd, "\n")
	args := strings.Fields(cmd)
	if args[0] != "-resume" || args[1] != ckpt {
		t.Fatalf("resume command %q does not start with -resume %s", cmd, ckpt)
	}
	out.Reset()
	errb.Reset()
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("resumed run %v: exit %d\n%s%s", args, code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "resumed from "+ckpt+" after step ") || !strings.Contains(out.String(), "charlm: 6 steps") {
		t.Fatalf("resumed run output:\n%s", out.String())
	}
	a, err := safetensors.Load(straight)
	if err != nil {
		t.Fatal(err)
	}
	b, err := safetensors.Load(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Tensors) != len(b.Tensors) || len(a.Tensors) < 3 {
		t.Fatalf("%d tensors straight, %d resumed", len(a.Tensors), len(b.Tensors))
	}
	for i := range a.Tensors {
		if a.Tensors[i].Name != b.Tensors[i].Name || !bytes.Equal(a.Tensors[i].Data, b.Tensors[i].Data) {
			t.Fatalf("tensor %s differs between the straight and the interrupted-and-resumed run", a.Tensors[i].Name)
		}
	}
	if a.Metadata["bfc.train.step"] != "6" || b.Metadata["bfc.train.step"] != "6" {
		t.Fatalf("final steps %s and %s", a.Metadata["bfc.train.step"], b.Metadata["bfc.train.step"])
	}
}

func TestResumeErrors(t *testing.T) {
	dir := t.TempDir()
	dense := filepath.Join(dir, "dense.safetensors")
	var out, errb bytes.Buffer
	if code := run([]string{"-arch", "dense", "-steps", "2", "-batch", "2", "-seq", "16", "-eval-batches", "1", "-heldout", "0.5",
		"-sample", "0", "-ckpt", dense, "."}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-resume", filepath.Join(dir, "missing")}, 2, "-resume: stat"},
		{[]string{"-checkpoint-every", "-3"}, 2, "-checkpoint-every -3"},
		{[]string{"-optimizer", "sgd"}, 2, `-optimizer "sgd"`},
		// A checkpoint of the dense model does not resume the Brainformer.
		{[]string{"-steps", "2", "-batch", "2", "-seq", "16", "-eval-batches", "1", "-heldout", "0.5", "-sample", "0",
			"-ckpt", filepath.Join(dir, "b.safetensors"), "-resume", dense, "."}, 1, "a checkpoint of a different model"},
		// Other settings are named.
		{[]string{"-arch", "dense", "-steps", "2", "-batch", "2", "-seq", "16", "-eval-batches", "1", "-heldout", "0.5", "-sample", "0",
			"-ckpt", filepath.Join(dir, "d2.safetensors"), "-lr", "0.01", "-resume", dense, "."}, 1, "written with LR 0.003, but this run has LR 0.01"},
	} {
		out.Reset()
		errb.Reset()
		if code := run(c.args, &out, &errb); code != c.code || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, code, errb.String(), c.code, c.want)
		}
	}
}
