package train

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bfcdev/bfc/parity/moemodel"
	"github.com/bfcdev/bfc/runtime/data"
	"github.com/bfcdev/bfc/runtime/safetensors"
)

// recorder is a generated MoE model that records every loss Forward
// returns (training and evaluation) and closes stop after stopAfter
// backward passes (0: never).
type recorder struct {
	*moemodel.Model
	losses    []float32
	backwards int
	stopAfter int
	stop      chan struct{}
	onForward func(n int) // called before each Forward with the count so far
}

func newRecorder(seed uint64) *recorder {
	return &recorder{Model: moemodel.New(moemodel.Options{Seed: seed}), stop: make(chan struct{})}
}

func (r *recorder) Forward(tokens, targets []int32, batch, seq int) (float32, error) {
	if r.onForward != nil {
		r.onForward(len(r.losses))
	}
	l, err := r.Model.Forward(tokens, targets, batch, seq)
	r.losses = append(r.losses, l)
	return l, err
}

func (r *recorder) Backward() {
	r.Model.Backward()
	r.backwards++
	if r.backwards == r.stopAfter {
		close(r.stop)
	}
}

// moeCorpus is text mapped into the model's 64-symbol vocabulary.
func moeCorpus() *data.Corpus {
	text := []byte(strings.Repeat("the quick brown fox jumps over the lazy dog; pack my box with five dozen jugs. ", 40))
	for i, b := range text {
		text[i] = b & 63
	}
	return &data.Corpus{Data: text}
}

func resumeConfig(opt string) Config {
	cfg := Config{Steps: 12, Batch: moemodel.MaxBatch, Seq: moemodel.MaxSeq, LR: 3e-3, MinLR: 3e-4, Warmup: 3,
		Optimizer: opt, WeightDecay: 0.1, Clip: 1, EvalEvery: 4, EvalBatches: 2, Seed: 9}
	if opt == "adafactor" {
		cfg.Schedule, cfg.LR = "invsqrt", 1e-2
	}
	return cfg
}

func sameParams(t *testing.T, a, b *moemodel.Model) {
	t.Helper()
	pa, pb := a.Params(), b.Params()
	for i := range pa {
		for j := range pa[i].Data {
			if math.Float32bits(pa[i].Data[j]) != math.Float32bits(pb[i].Data[j]) {
				t.Fatalf("%s[%d]: %v straight, %v resumed", pa[i].Name, j, pa[i].Data[j], pb[i].Data[j])
			}
		}
	}
}

func sameLosses(t *testing.T, straight, resumed []float32) {
	t.Helper()
	if len(straight) != len(resumed) {
		t.Fatalf("straight run computed %d losses, interrupted and resumed %d", len(straight), len(resumed))
	}
	for i := range straight {
		if math.Float32bits(straight[i]) != math.Float32bits(resumed[i]) {
			t.Fatalf("loss %d: %v straight, %v resumed", i, straight[i], resumed[i])
		}
	}
}

// TestResumeIsExact trains 12 steps straight, then 5 steps, a checkpoint,
// fresh model, optimizer and data objects and 7 more steps, and requires
// the same parameters bit for bit and the same losses. The checkpoint
// comes either from Stop or from CheckpointEvery.
func TestResumeIsExact(t *testing.T) {
	for _, opt := range []string{"adamw", "adafactor"} {
		t.Run(opt, func(t *testing.T) {
			dir := t.TempDir()
			straight := newRecorder(1)
			cfg := resumeConfig(opt)
			cfg.Checkpoint = filepath.Join(dir, "straight.safetensors")
			if _, err := Run(straight, cfg, moeCorpus(), moeCorpus()); err != nil {
				t.Fatal(err)
			}

			t.Run("stop", func(t *testing.T) {
				first := newRecorder(1)
				first.stopAfter = 5
				cfg := resumeConfig(opt)
				cfg.Checkpoint, cfg.Stop = filepath.Join(dir, "stop.safetensors"), first.stop
				res, err := Run(first, cfg, moeCorpus(), moeCorpus())
				if err != nil {
					t.Fatal(err)
				}
				if !res.Stopped || res.LastStep != 5 || res.Steps != 5 {
					t.Fatalf("stopped %v after step %d (%d steps); want a stop after step 5", res.Stopped, res.LastStep, res.Steps)
				}
				second := newRecorder(2) // other initial parameters: the checkpoint must replace them
				cfg = resumeConfig(opt)
				cfg.Resume = filepath.Join(dir, "stop.safetensors")
				res, err = Run(second, cfg, moeCorpus(), moeCorpus())
				if err != nil {
					t.Fatal(err)
				}
				if res.ResumedAt != 5 || res.Steps != 12 || res.Tokens != 12*int64(cfg.Batch*cfg.Seq) {
					t.Fatalf("resumed at %d, ran to %d with %d tokens", res.ResumedAt, res.Steps, res.Tokens)
				}
				sameParams(t, straight.Model, second.Model)
				sameLosses(t, straight.losses, append(first.losses, second.losses...))
			})

			t.Run("every", func(t *testing.T) {
				// Copy the checkpoint as step 8 starts: CheckpointEvery
				// 5 wrote it after step 5 (the evaluation after step 4
				// wrote one too, then step 5's replaced it).
				first := newRecorder(1)
				cfg := resumeConfig(opt)
				cfg.Checkpoint, cfg.CheckpointEvery = filepath.Join(dir, "every.safetensors"), 5
				copyAt := filepath.Join(dir, "at5.safetensors")
				var atCopy int
				first.onForward = func(n int) {
					if first.backwards == 7 && atCopy == 0 {
						b, err := os.ReadFile(cfg.Checkpoint)
						if err != nil {
							t.Error(err)
						}
						os.WriteFile(copyAt, b, 0o644)
						atCopy = n
					}
				}
				if _, err := Run(first, cfg, moeCorpus(), moeCorpus()); err != nil {
					t.Fatal(err)
				}
				sameParams(t, straight.Model, first.Model)
				second := newRecorder(3)
				cfg = resumeConfig(opt)
				cfg.Resume = copyAt
				res, err := Run(second, cfg, moeCorpus(), moeCorpus())
				if err != nil {
					t.Fatal(err)
				}
				if res.ResumedAt != 5 {
					t.Fatalf("the checkpoint written every 5 steps resumed at step %d", res.ResumedAt)
				}
				sameParams(t, straight.Model, second.Model)
				// Losses before the copy, plus the run from step 6 on.
				// The copy happened before step 8's Forward, after the
				// Forward calls of steps 1-7 and the evaluation at 4; the
				// resumed run recomputes steps 6 and 7.
				sameLosses(t, straight.losses, append(first.losses[:atCopy-2], second.losses...))
			})

			t.Run("not exact without the state", func(t *testing.T) {
				// A control: resuming only the parameters (a fresh
				// optimizer and sampler) diverges, so the checks above
				// can fail.
				second := newRecorder(1)
				if err := LoadParams(second, filepath.Join(dir, "stop.safetensors")); err != nil {
					t.Fatal(err)
				}
				cfg := resumeConfig(opt)
				cfg.Steps = 7
				if _, err := Run(second, cfg, moeCorpus(), moeCorpus()); err != nil {
					t.Fatal(err)
				}
				p, q := straight.Params()[0].Data, second.Params()[0].Data
				same := true
				for i := range p {
					same = same && p[i] == q[i]
				}
				if same {
					t.Fatal("parameters-only resume matched the straight run")
				}
			})
		})
	}
}

// TestGeneratedLoadReadsTrainingCheckpoints: a generated model's Load takes
// the parameters of a training checkpoint and ignores its optimizer state,
// while a parameter file with a stray train.* tensor is still refused.
func TestGeneratedLoadReadsTrainingCheckpoints(t *testing.T) {
	dir := t.TempDir()
	r := newRecorder(1)
	cfg := resumeConfig("adamw")
	cfg.Steps, cfg.Checkpoint = 3, filepath.Join(dir, "train.safetensors")
	if _, err := Run(r, cfg, moeCorpus(), moeCorpus()); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Load(cfg.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(f.Tensors, func(x safetensors.Tensor) bool { return strings.HasPrefix(x.Name, "train.") }) {
		t.Fatal("the training checkpoint holds no optimizer state")
	}
	m, err := moemodel.Load(cfg.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	sameParams(t, r.Model, m)

	plain := filepath.Join(dir, "plain.safetensors")
	if err := r.Model.Save(plain); err != nil {
		t.Fatal(err)
	}
	p, err := safetensors.Load(plain)
	if err != nil {
		t.Fatal(err)
	}
	p.Tensors = append(p.Tensors, f.Tensors[slices.IndexFunc(f.Tensors, func(x safetensors.Tensor) bool { return strings.HasPrefix(x.Name, "train.") })])
	if err := safetensors.Save(plain, p.Tensors, p.Metadata); err != nil {
		t.Fatal(err)
	}
	if _, err := moemodel.Load(plain); err == nil || !strings.Contains(err.Error(), "is not a parameter of") {
		t.Errorf("a parameter file with a train.* tensor but no training metadata: %v", err)
	}
}
