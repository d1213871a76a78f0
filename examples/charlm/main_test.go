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
	code := run([]string{"-steps", "4", "-batch", "2", "-seq", "32", "-eval-every", "2", "-eval-batches", "1",
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

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-batch", "0"}, {"-batch", "1000"}, {"-seq", "1"}, {"-heldout", "1.5"}, {"-nosuchflag"},
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
