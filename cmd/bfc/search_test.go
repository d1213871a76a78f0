//go:build unix

package main

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bfcdev/bfc/search"
)

// fakeTrainer writes a shell script standing in for a trial's trainer; $2
// is the -result path.
func fakeTrainer(t *testing.T, body string) string {
	path := filepath.Join(t.TempDir(), "trainer")
	require.NoError(t, os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755))
	return path
}

// TestTrialFailures checks that each way a trainer process can end badly
// becomes a failure reason that names it.
func TestTrialFailures(t *testing.T) {
	cases := []struct {
		name, body, want string
		limit            time.Duration
	}{
		{"panic", `echo 'bfc train: starting' >&2; echo 'panic: runtime error: index out of range [3] with length 3' >&2; echo 'goroutine 1 [running]:' >&2; exit 2`,
			"panic: runtime error: index out of range [3] with length 3 (exit status 2)", time.Minute},
		{"oom", `echo 'fatal error: runtime: out of memory' >&2; exit 2`, "out of memory: fatal error: runtime: out of memory", time.Minute},
		{"killed", `kill -9 $$`, "killed by signal killed (the system may have run out of memory)", time.Minute},
		{"slow", `sleep 20`, "ran out of time: the trainer was still running after 300ms and was killed", 300 * time.Millisecond},
		{"nan", `echo '{"status":"failed","error":"step 3: the loss is NaN; lower -lr, raise -warmup or clip gradients"}' > "$2"; exit 1`,
			"step 3: the loss is NaN; lower -lr, raise -warmup or clip gradients", time.Minute},
		{"silent", `exit 0`, "the trainer wrote no result", time.Minute},
		{"exit", `echo 'bfc train: held-out data is smaller than one sequence' >&2; exit 1`, "exit status 1: bfc train: held-out data is smaller than one sequence", time.Minute},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &trialRunner{dir: t.TempDir(), threads: 1}
			tr := &search.Trial{N: 3}
			require.NoError(t, os.MkdirAll(r.trialDir(tr), 0o755))
			start := time.Now()
			_, err := r.run(context.Background(), tr, fakeTrainer(t, c.body), c.limit)
			require.Error(t, err)
			require.Contains(t, err.Error(), c.want)
			require.Less(t, time.Since(start), 10*time.Second, "the slow trainer was not killed")
		})
	}
}

func TestTrialOutcome(t *testing.T) {
	r := &trialRunner{dir: t.TempDir(), threads: 2}
	tr := &search.Trial{N: 0}
	require.NoError(t, os.MkdirAll(r.trialDir(tr), 0o755))
	// The trainer sees the thread count and the flags; its result is read.
	bin := fakeTrainer(t, `[ "$GOMAXPROCS" = 2 ] || exit 9
echo '{"status":"hurdle","steps":40,"tokens":4096,"elapsed_s":1.5,"heldout_bpb":3.25,"hurdle_bpb":3.25}' > "$2"`)
	res, err := r.run(context.Background(), tr, bin, time.Minute)
	require.NoError(t, err)
	o, err := outcome(res)
	require.NoError(t, err)
	require.True(t, o.Stopped)
	require.Equal(t, 3.25, o.BPB)
	require.Equal(t, 40, o.Steps)
	_, err = outcome(&trialResult{Status: "stopped"})
	require.ErrorContains(t, err, `status "stopped"`)
	o, err = outcome(&trialResult{Status: "ok", HeldOut: ptr(2.5)})
	require.NoError(t, err)
	require.False(t, o.Stopped)
	require.True(t, math.IsNaN(o.HurdleBPB))
}

func ptr(x float64) *float64 { return &x }

func TestResumeCommand(t *testing.T) {
	got := resumeCommand([]string{"-trial", "3s", "-budget", "5m", "space.bf", "my corpus"}, "space.journal.jsonl")
	require.Equal(t, selfCommand()+" search -resume -journal space.journal.jsonl -trial 3s -budget 5m space.bf 'my corpus'", got)
	got = resumeCommand([]string{"-resume", "-journal", "j.jsonl", "space.bf"}, "j.jsonl")
	require.Equal(t, selfCommand()+" search -resume -journal j.jsonl space.bf", got)
}
