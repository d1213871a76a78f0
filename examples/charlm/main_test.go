package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

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

// TestBrainformerReportsRouting checks that the default model's progress
// shows routing statistics.
func TestBrainformerReportsRouting(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"-steps", "2", "-batch", "16", "-seq", "8", "-eval-batches", "1",
		"-heldout", "0.5", "-sample", "0", "-ckpt", filepath.Join(t.TempDir(), "b.safetensors"), "."}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, errb.String())
	}
	for _, want := range []string{"brainformer model", "moe: 0 experts", "blocks.0.moe1: load min/max"} {
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
