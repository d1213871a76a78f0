package train

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bfcdev/bfc/runtime/data"
	"github.com/bfcdev/bfc/runtime/safetensors"
	"github.com/bfcdev/bfc/runtime/tensor"
)

// stopping is a bigram model that closes stop after n backward passes.
type stopping struct {
	*bigram
	n, done int
	stop    chan struct{}
}

func (m *stopping) Backward() {
	m.bigram.Backward()
	m.done++
	if m.done == m.n {
		close(m.stop)
	}
}

func bigramConfig() Config {
	return Config{Steps: 8, Batch: 2, Seq: 16, LR: 0.1, Warmup: 2, EvalBatches: 1, Seed: 3}
}

func bigramCorpus() *data.Corpus {
	return &data.Corpus{Data: []byte(strings.Repeat("the cat sat on the mat. ", 50))}
}

// stoppedCheckpoint trains a bigram model 3 of 8 steps and returns the
// training checkpoint and the parameters it holds.
func stoppedCheckpoint(t *testing.T) (string, []float32) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ckpt.safetensors")
	m := &stopping{bigram: newBigram(), n: 3, stop: make(chan struct{})}
	cfg := bigramConfig()
	cfg.Checkpoint, cfg.Stop = path, m.stop
	res, err := Run(m, cfg, bigramCorpus(), bigramCorpus())
	if err != nil {
		t.Fatal(err)
	}
	if !res.Stopped || res.LastStep != 3 {
		t.Fatalf("stopped %v after step %d, want after step 3", res.Stopped, res.LastStep)
	}
	return path, slices.Clone(m.w)
}

// rewrite edits the safetensors file at path.
func rewrite(t *testing.T, path string, edit func(f *safetensors.File)) {
	t.Helper()
	f, err := safetensors.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	edit(f)
	if err := safetensors.Save(path, f.Tensors, f.Metadata); err != nil {
		t.Fatal(err)
	}
}

func dropTensor(name string) func(*safetensors.File) {
	return func(f *safetensors.File) {
		f.Tensors = slices.DeleteFunc(f.Tensors, func(x safetensors.Tensor) bool { return x.Name == name })
	}
}

func setMeta(key, value string) func(*safetensors.File) {
	return func(f *safetensors.File) { f.Metadata[key] = value }
}

// otherModel has a parameter the bigram checkpoint lacks.
type otherModel struct{ *bigram }

func (m otherModel) Params() []tensor.Param[float32] {
	p := m.bigram.Params()
	return append(slices.Clone(p), tensor.NewParam[float32]("extra.w", []int{3}, true))
}

func TestResumeRejects(t *testing.T) {
	good, _ := stoppedCheckpoint(t)
	cases := []struct {
		name  string
		edit  func(*safetensors.File)
		model func() Model
		cfg   func(*Config)
		want  string
	}{
		{name: "parameters only", edit: func(f *safetensors.File) {
			f.Tensors = slices.DeleteFunc(f.Tensors, func(x safetensors.Tensor) bool { return strings.HasPrefix(x.Name, "train.") })
			f.Metadata = map[string]string{"bfc.format": "1"}
		}, want: "not a training checkpoint (no bfc.train.format metadata)"},
		{name: "format", edit: setMeta("bfc.train.format", "2"), want: `training checkpoint format "2"; this bfc reads format 1`},
		{name: "shape", edit: func(f *safetensors.File) {
			f.Tensors[slices.IndexFunc(f.Tensors, func(x safetensors.Tensor) bool { return x.Name == "w" })].Shape = []int{128, 512}
		},
			want: `tensor "w" has shape [128 512], the model's parameter has [256 256]: a checkpoint of a different model`},
		{name: "model lacks a tensor", edit: func(f *safetensors.File) {
			f.Tensors = append(f.Tensors, safetensors.FromFloat32("blocks.0.x", []int{1}, []float32{1}))
		}, want: `tensor "blocks.0.x" is not a parameter of this model: a checkpoint of a different model`},
		{name: "checkpoint lacks a parameter", model: func() Model { return otherModel{newBigram()} },
			want: `no tensor "extra.w": a checkpoint of a different model (it has 1 parameter tensors, this model 2)`},
		{name: "missing optimizer state", edit: dropTensor("train.optim.w.v"), want: `optimizer state: no tensor "w.v"`},
		{name: "optimizer state dtype", edit: func(f *safetensors.File) {
			i := slices.IndexFunc(f.Tensors, func(x safetensors.Tensor) bool { return x.Name == "train.optim.w.m" })
			f.Tensors[i] = safetensors.FromFloat64("train.optim.w.m", []int{65536}, make([]float64, 65536))
		}, want: `optimizer state: tensor "w.m" needs 65536 float32 values, has 0 float32 and 65536 float64`},
		{name: "optimizer state of another parameter", edit: func(f *safetensors.File) {
			f.Tensors = append(f.Tensors, safetensors.FromFloat32("train.optim.u.m", []int{1}, []float32{1}))
		}, want: `tensor "u.m" belongs to no parameter of this model`},
		{name: "different optimizer", cfg: func(c *Config) { c.Optimizer = "adafactor" },
			want: "written with Optimizer adamw, but this run has Optimizer adafactor"},
		{name: "optimizer kind", edit: setMeta("bfc.optim.kind", "adafactor"), want: "optimizer state is for adafactor, not adamw"},
		{name: "optimizer setting", edit: setMeta("bfc.optim.beta2", "0.9"), want: "setting beta2 is 0.9 in the checkpoint but 0.95 now"},
		{name: "learning rate", cfg: func(c *Config) { c.LR = 0.2 }, want: "written with LR 0.1, but this run has LR 0.2; resume with the settings of the run that wrote it"},
		{name: "steps", cfg: func(c *Config) { c.Steps = 9 }, want: "written with Steps 8, but this run has Steps 9"},
		{name: "missing setting", edit: func(f *safetensors.File) { delete(f.Metadata, "bfc.train.config.Seq") }, want: "metadata bfc.train.config.Seq is missing"},
		{name: "data", edit: setMeta("bfc.train.data", "5 bytes, fnv64a 0000000000000000"), want: "written for training data of 5 bytes, fnv64a 0000000000000000, but this run's has 1200 bytes"},
		{name: "rng", edit: setMeta("bfc.train.rng", "zz"), want: `metadata bfc.train.rng = "zz": want two 16-digit hex words`},
		{name: "step", edit: setMeta("bfc.train.step", "-4"), want: `metadata bfc.train.step = "-4": want a step count`},
		{name: "elapsed", edit: setMeta("bfc.train.elapsed_ns", "soon"), want: `metadata bfc.train.elapsed_ns = "soon"`},
		{name: "recent losses", edit: dropTensor("train.recent_aux"), want: `no tensor "train.recent_aux"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ckpt.safetensors")
			b, err := os.ReadFile(good)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if c.edit != nil {
				rewrite(t, path, c.edit)
			}
			var m Model = newBigram()
			if c.model != nil {
				m = c.model()
			}
			cfg := bigramConfig()
			cfg.Resume = path
			if c.cfg != nil {
				c.cfg(&cfg)
			}
			_, err = Run(m, cfg, bigramCorpus(), bigramCorpus())
			if err == nil {
				t.Fatalf("Run resumed from a checkpoint with %s", c.name)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %q\nwant it to name %s and say %q", err, path, c.want)
			}
			if slices.ContainsFunc(m.Params()[0].Data, func(x float32) bool { return x != 0 }) {
				t.Fatal("a refused checkpoint changed the parameters")
			}
		})
	}
	// The unedited checkpoint resumes, and with other training data it
	// does not.
	m := newBigram()
	cfg := bigramConfig()
	cfg.Resume = good
	res, err := Run(m, cfg, bigramCorpus(), bigramCorpus())
	if err != nil || res.ResumedAt != 3 || res.Steps != 8 {
		t.Fatalf("resuming the good checkpoint: %v, %+v", err, res)
	}
	other := &data.Corpus{Data: bytes.Repeat([]byte("a dog ran. "), 100)}
	if _, err := Run(newBigram(), cfg, other, other); err == nil || !strings.Contains(err.Error(), "resume on the same files") {
		t.Fatalf("resuming on other data: %v", err)
	}
	// A truncated file is refused by the safetensors reader.
	b, _ := os.ReadFile(good)
	cut := filepath.Join(t.TempDir(), "cut.safetensors")
	if err := os.WriteFile(cut, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.Resume = cut
	if _, err := Run(newBigram(), cfg, bigramCorpus(), bigramCorpus()); err == nil || !strings.Contains(err.Error(), cut) {
		t.Fatalf("resuming a truncated file: %v", err)
	}
}

func TestLoadParams(t *testing.T) {
	path, saved := stoppedCheckpoint(t)
	m := newBigram()
	if err := LoadParams(m, path); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.w, saved) {
		t.Fatal("LoadParams did not restore the saved parameters")
	}
	// A parameter file written by a generated Save reads too.
	plain := filepath.Join(t.TempDir(), "params.safetensors")
	x := slices.Clone(saved)
	x[5] = 42
	if err := safetensors.Save(plain, []safetensors.Tensor{safetensors.FromFloat32("w", []int{256, 256}, x)}, map[string]string{"bfc.format": "1"}); err != nil {
		t.Fatal(err)
	}
	if err := LoadParams(m, plain); err != nil || m.w[5] != 42 {
		t.Fatalf("plain parameter file: %v (w[5] = %v)", err, m.w[5])
	}
	// Training-state tensors belong in training checkpoints only.
	if err := safetensors.Save(plain, []safetensors.Tensor{safetensors.FromFloat32("w", []int{256, 256}, x), safetensors.FromFloat32("train.optim.w.m", []int{1}, []float32{1})}, nil); err != nil {
		t.Fatal(err)
	}
	if err := LoadParams(m, plain); err == nil || !strings.Contains(err.Error(), `tensor "train.optim.w.m" is not a parameter of this model`) {
		t.Fatalf("got %v", err)
	}
	if err := LoadParams(otherModel{newBigram()}, path); err == nil || !strings.Contains(err.Error(), `no tensor "extra.w"`) {
		t.Fatalf("got %v", err)
	}
}

func TestCheckpointConfigErrors(t *testing.T) {
	c := bigramCorpus()
	for name, cfg := range map[string]Config{
		"every without path": {Steps: 1, Batch: 1, Seq: 8, LR: 1, CheckpointEvery: 5},
		"negative every":     {Steps: 1, Batch: 1, Seq: 8, LR: 1, CheckpointEvery: -1, Checkpoint: "x"},
		"optimizer":          {Steps: 1, Batch: 1, Seq: 8, LR: 1, Optimizer: "sgd"},
		"missing resume":     {Steps: 1, Batch: 1, Seq: 8, LR: 1, Resume: filepath.Join(t.TempDir(), "nope.safetensors")},
	} {
		if _, err := Run(newBigram(), cfg, c, c); err == nil {
			t.Errorf("%s: Run accepted %+v", name, cfg)
		}
	}
}
