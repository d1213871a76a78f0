package cli

import (
	"bytes"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bfcdev/bfc/runtime/plot"
	"github.com/bfcdev/bfc/runtime/safetensors"
	"github.com/bfcdev/bfc/runtime/tensor"
	"github.com/bfcdev/bfc/runtime/train"
)

// bigram is a toy model: logits[t] = W[token[t]], a 256×256 table.
type bigram struct {
	w, g           []float32
	tokens         []int32
	probs          []float64
	params         []tensor.Param[float32]
	needFullBatch  int // Infer fails for other batch sizes (0: any)
	inferBatchSeen int
}

func newBigram(seed uint64) train.Model {
	m := &bigram{w: make([]float32, 256*256), g: make([]float32, 256*256)}
	r := tensor.NewRNG(seed)
	for i := range m.w {
		m.w[i] = float32(r.NormFloat64() * 0.01)
	}
	m.params = []tensor.Param[float32]{{Name: "w", Shape: []int{256, 256}, Data: m.w, Grad: m.g}}
	return m
}

func (m *bigram) row(tok int32) []float64 {
	row := m.w[int(tok)*256 : int(tok)*256+256]
	mx := math.Inf(-1)
	for _, v := range row {
		mx = math.Max(mx, float64(v))
	}
	p := make([]float64, 256)
	var s float64
	for j, v := range row {
		p[j] = math.Exp(float64(v) - mx)
		s += p[j]
	}
	for j := range p {
		p[j] /= s
	}
	return p
}

func (m *bigram) Forward(tokens, targets []int32, batch, seq int) (float32, error) {
	m.tokens = append(m.tokens[:0], tokens...)
	m.probs = m.probs[:0]
	var loss float64
	for t, tok := range tokens {
		p := m.row(tok)
		m.probs = append(m.probs, p...)
		loss -= math.Log(p[targets[t]])
	}
	for t := range tokens {
		m.probs[t*256+int(targets[t])] -= 1 // d loss / d logits, before scaling
	}
	return float32(loss / float64(len(tokens))), nil
}

func (m *bigram) Backward() {
	clear(m.g)
	n := float64(len(m.tokens))
	for t, tok := range m.tokens {
		for j := 0; j < 256; j++ {
			m.g[int(tok)*256+j] += float32(m.probs[t*256+j] / n)
		}
	}
}

func (m *bigram) Infer(tokens []int32, batch, seq int) ([]float32, error) {
	if m.needFullBatch > 0 && batch != m.needFullBatch {
		return nil, os.ErrInvalid
	}
	m.inferBatchSeen = batch
	out := make([]float32, 0, len(tokens)*256)
	for _, tok := range tokens {
		out = append(out, m.w[int(tok)*256:int(tok)*256+256]...)
	}
	return out, nil
}

func (m *bigram) Params() []tensor.Param[float32] { return m.params }

func (m *bigram) Save(path string) error {
	return safetensors.Save(path, []safetensors.Tensor{safetensors.FromFloat32("w", []int{256, 256}, m.w)}, nil)
}

func testProgram() Program {
	mk := func(name string) Model {
		return Model{Name: name, Doc: name + ".bf", New: newBigram, MaxBatch: 4, MaxSeq: 16, NumParams: 65536,
			Source: &train.ModelSource{Main: name + ".bf", Files: map[string]string{name + ".bf": "model " + name + " {}\n"}, Model: name}}
	}
	return Program{Name: "toy", Command: "toy", Models: []Model{mk("Big"), mk("Other")}, Checkpoint: "toy.safetensors"}
}

// corpusDir writes a few files of "abab..." text.
func corpusDir(t *testing.T) string {
	dir := t.TempDir()
	for i, name := range []string{"a.txt", "b.txt", "c.txt", "d.txt", "e.txt", "f.txt"} {
		text := strings.Repeat("ab", 200+10*i)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestFlagsToConfig(t *testing.T) {
	var errb bytes.Buffer
	o, code := parseTrain(testProgram(), []string{"-arch", "Other", "-lr", "0.02", "-steps", "7", "-seq", "8",
		"-ckpt", "/x/run.safetensors", "-eval-every", "3", "-optimizer", "adafactor", "corpus"}, &errb)
	if o == nil {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	c := o.cfg
	if o.model.Name != "Other" || c.LR != 0.02 || c.MinLR != 0.002 || c.Steps != 7 || c.Batch != 4 || c.Seq != 8 ||
		c.EvalEvery != 3 || c.Optimizer != "adafactor" || c.Checkpoint != "/x/run.safetensors" || c.LogEvery != 50 {
		t.Fatalf("config %+v", c)
	}
	if o.logPath != "/x/run.jsonl" || o.plotPath != "/x/run.png" || len(o.paths) != 1 || o.paths[0] != "corpus" {
		t.Fatalf("log %q, plot %q, paths %v", o.logPath, o.plotPath, o.paths)
	}
	src, err := train.DecodeModelSource(c.Metadata[train.MetaSource])
	if err != nil || src.Model != "Other" || c.Metadata[train.MetaModel] != "Other" {
		t.Fatalf("metadata %v (%v)", c.Metadata, err)
	}
	o, _ = parseTrain(testProgram(), []string{"-log", "l/x.jsonl", "-plot", "off"}, &errb)
	if o.logPath != "l/x.jsonl" || o.plotPath != "" {
		t.Fatalf("-log l/x.jsonl -plot off: log %q, plot %q", o.logPath, o.plotPath)
	}
	o, _ = parseTrain(testProgram(), []string{"-log", "off"}, &errb)
	if o.logPath != "" || o.plotPath != "" {
		t.Fatalf("-log off: log %q, plot %q", o.logPath, o.plotPath)
	}
}

func TestBadFlags(t *testing.T) {
	notes := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notes, []byte("my notes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-batch", "5"}, "-batch 5: must be between 1 and 4"},
		{[]string{"-seq", "1"}, "-seq 1: must be between 2 and 16"},
		{[]string{"-arch", "rnn"}, `-arch "rnn": want Big or Other`},
		{[]string{"-heldout", "1"}, "-heldout 1"},
		{[]string{"-steps", "0"}, "-steps 0"},
		{[]string{"-lr", "-1"}, "-lr -1"},
		{[]string{"-schedule", "step"}, `-schedule "step"`},
		{[]string{"-nonfinite", "ignore"}, `-nonfinite "ignore"`},
		{[]string{"-log", "off", "-plot", "p.png"}, "set -log too"},
		{[]string{"-resume", "/no/such/ckpt"}, "-resume: stat /no/such/ckpt"},
		{[]string{"-nosuch"}, "flag provided but not defined: -nosuch"},
		{[]string{"-ckpt", "a.safetensors", "-log", "a.safetensors"}, "must name different files"},
		{[]string{"-log", notes}, "-log: " + notes + " exists and was not written by the trainer"},
		{[]string{"-plot", notes}, "-plot: " + notes + " exists and was not written by the trainer"},
		{[]string{"-ckpt", notes}, "-ckpt: " + notes + " exists and was not written by the trainer"},
	} {
		var out, errb bytes.Buffer
		if code := Train(testProgram(), c.args, &out, &errb, nil, func() {}); code != 2 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, errb.String(), c.want)
		}
	}
	if b, err := os.ReadFile(notes); err != nil || string(b) != "my notes\n" {
		t.Fatalf("notes.txt changed: %q, %v", b, err)
	}
}

// TestTrainLogPlotSample trains the toy model on "abab" text, checks the
// log and the plot, then samples the checkpoint greedily: a model that
// learned the text continues "a" with "bab...".
func TestTrainLogPlotSample(t *testing.T) {
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "sub", "run.safetensors")
	var out, errb bytes.Buffer
	args := []string{"-steps", "30", "-lr", "0.5", "-warmup", "0", "-eval-every", "10", "-eval-batches", "1", "-log-every", "5",
		"-heldout", "0.3", "-sample", "9", "-temperature", "0", "-prompt", "a", "-ckpt", ckpt, corpusDir(t)}
	if code := Train(testProgram(), args, &out, &errb, nil, func() {}); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	for _, want := range []string{"toy: Big model, 65536 parameters; training on the files named (", "step 30/30", "tok/s",
		"held-out", "training log: " + filepath.Join(dir, "sub", "run.jsonl"), "loss plot: " + filepath.Join(dir, "sub", "run.png"),
		"---\nababababab\n", "more samples: toy sample " + ckpt} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	logText, err := os.ReadFile(filepath.Join(dir, "sub", "run.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var steps []float64
	for _, l := range strings.Split(strings.TrimSpace(string(logText)), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		steps = append(steps, rec["step"].(float64))
	}
	// Training lines every 5 steps, evaluations at 10, 20 and the end.
	want := []float64{5, 10, 10, 15, 20, 20, 25, 30, 30}
	if len(steps) != len(want) {
		t.Fatalf("log steps %v, want %v", steps, want)
	}
	for i := range want {
		if steps[i] != want[i] {
			t.Fatalf("log steps %v, want %v", steps, want)
		}
	}
	f, err := os.Open(filepath.Join(dir, "sub", "run.png"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil || img.Bounds().Dx() != plot.Width || img.Bounds().Dy() != plot.Height {
		t.Fatalf("plot: %v, %v", err, img)
	}

	// Sample mode: greedy, from the checkpoint alone.
	out.Reset()
	errb.Reset()
	if code := Sample(testProgram(), []string{"-n", "7", "-temperature", "0", "-prompt", "ba", ckpt}, &out, &errb); code != 0 {
		t.Fatalf("sample: exit %d: %s", code, errb.String())
	}
	if out.String() != "babababab\n" {
		t.Fatalf("greedy sample %q, want %q", out.String(), "babababab\n")
	}
}

// TestSampleBatch checks that a model whose Infer needs a full batch is
// decoded with MaxBatch copies and others with one.
func TestSampleBatch(t *testing.T) {
	for _, full := range []int{0, 4} {
		bm := newBigram(1).(*bigram)
		bm.needFullBatch = full
		m := testProgram().Models[0]
		if _, err := generate(bm, &m, []byte("ab"), 3, 0, 1, 1); err != nil {
			t.Fatal(err)
		}
		if want := max(full, 1); bm.inferBatchSeen != want {
			t.Errorf("needs batch %d: decoded with batch %d, want %d", full, bm.inferBatchSeen, want)
		}
	}
}

func TestSampleErrors(t *testing.T) {
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "c.safetensors")
	var out, errb bytes.Buffer
	if code := Train(testProgram(), []string{"-arch", "Other", "-steps", "2", "-eval-batches", "1", "-heldout", "0.3", "-sample", "0",
		"-ckpt", ckpt, corpusDir(t)}, &out, &errb, nil, func() {}); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	plain := filepath.Join(dir, "plain.safetensors")
	newBigram(1).Save(plain)
	one := testProgram()
	one.Models = one.Models[:1]
	for _, c := range []struct {
		p    Program
		args []string
		code int
		want string
	}{
		{testProgram(), []string{ckpt, "extra"}, 2, "want one checkpoint, got 2 arguments"},
		{testProgram(), []string{"-n", "0", ckpt}, 2, "-n 0"},
		{testProgram(), []string{"-top-p", "0", ckpt}, 2, "-top-p 0"},
		{testProgram(), []string{"-prompt", "", ckpt}, 2, "-prompt is empty"},
		{testProgram(), []string{filepath.Join(dir, "missing")}, 1, "no such file"},
		{testProgram(), []string{plain}, 1, "does not say which model wrote it"},
		{one, []string{ckpt}, 1, `holds model "Other"; toy has Big`},
	} {
		out.Reset()
		errb.Reset()
		if code := Sample(c.p, c.args, &out, &errb); code != c.code || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, errb.String(), c.code, c.want)
		}
	}
	// A parameter file of one model is sampled by a program of one model.
	out.Reset()
	if code := Sample(one, []string{"-n", "3", plain}, &out, &errb); code != 0 || len(out.String()) != len("func ")+3+1 {
		t.Fatalf("plain parameters: exit %d, %q, %s", code, out.String(), errb.String())
	}
}

// TestResumeKeepsLog stops a run, resumes it and checks that the log
// continues without repeating steps.
func TestResumeKeepsLog(t *testing.T) {
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "c.safetensors")
	corpus := corpusDir(t)
	args := []string{"-steps", "20", "-eval-every", "0", "-eval-batches", "1", "-log-every", "2", "-heldout", "0.3", "-sample", "0", "-ckpt", ckpt}
	stop := make(chan struct{})
	close(stop) // stops before the first step
	var out, errb bytes.Buffer
	if code := Train(testProgram(), append(args, "-checkpoint-every", "4", corpus), &out, &errb, stop, func() {}); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "resume with:\n  toy -resume "+ckpt+" ") {
		t.Fatalf("no resume command:\n%s", out.String())
	}
	// Pretend the log went further than the checkpoint (step 0).
	logPath := filepath.Join(dir, "c.jsonl")
	os.WriteFile(logPath, []byte(`{"step":0,"train_loss":5}`+"\n"+`{"step":2,"train_loss":4}`+"\n"), 0o644)
	out.Reset()
	if code := Train(testProgram(), append(args, "-checkpoint-every", "4", "-resume", ckpt, corpus), &out, &errb, nil, func() {}); code != 0 {
		t.Fatalf("resume: exit %d: %s\n%s", code, errb.String(), out.String())
	}
	if strings.Contains(errb.String(), "warning") {
		t.Fatalf("resuming with the same source warns: %s", errb.String())
	}
	// Other source text (same parameters) resumes with a warning.
	edited := testProgram()
	edited.Models[0].Source.Files["Big.bf"] = "model Big { }\n"
	errb.Reset()
	if code := Train(edited, append(args, "-checkpoint-every", "4", "-resume", ckpt, "-log", "off", corpus), &out, &errb, nil, func() {}); code != 0 ||
		!strings.Contains(errb.String(), "warning: "+ckpt+" was trained from other .bf source") {
		t.Fatalf("resume with edited source: exit %d, stderr %q", code, errb.String())
	}
	text, _ := os.ReadFile(logPath)
	lines := strings.Split(strings.TrimSpace(string(text)), "\n")
	if len(lines) != 12 || lines[0] != `{"step":0,"train_loss":5}` || !strings.HasPrefix(lines[1], `{"aux_loss":0,`) {
		t.Fatalf("resumed log (want the step-0 line, 10 training lines, the final evaluation):\n%s", text)
	}
}

// TestSampleMatchesEndOfTraining checks that sampling a checkpoint gives
// the text that the end of its training run printed, with the same seed.
func TestSampleMatchesEndOfTraining(t *testing.T) {
	ckpt := filepath.Join(t.TempDir(), "c.safetensors")
	var out, errb bytes.Buffer
	if code := Train(testProgram(), []string{"-steps", "5", "-lr", "0.3", "-eval-batches", "1", "-heldout", "0.3", "-sample", "40",
		"-prompt", "ab", "-seed", "7", "-ckpt", ckpt, corpusDir(t)}, &out, &errb, nil, func() {}); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	_, after, _ := strings.Cut(out.String(), "---\n")
	text, _, ok := strings.Cut(after, "\n---\n")
	if !ok || len(text) != 42 {
		t.Fatalf("no 42-byte sample in:\n%s", out.String())
	}
	var s bytes.Buffer
	if code := Sample(testProgram(), []string{"-n", "40", "-prompt", "ab", "-seed", "7", ckpt}, &s, &errb); code != 0 {
		t.Fatalf("sample: exit %d: %s", code, errb.String())
	}
	if s.String() != text+"\n" {
		t.Fatalf("sample of the checkpoint %q differs from the end of training %q", s.String(), text)
	}
}

// nanModel returns a NaN loss from its n+1st Forward on.
type nanModel struct {
	*bigram
	calls, n int
}

func (m *nanModel) Forward(tokens, targets []int32, batch, seq int) (float32, error) {
	loss, err := m.bigram.Forward(tokens, targets, batch, seq)
	if m.calls++; m.calls > m.n {
		return float32(math.NaN()), err
	}
	return loss, err
}

// TestLogWithNaN checks that a NaN held-out loss keeps its log line (as
// null) and that the plot is still drawn from the other values.
func TestLogWithNaN(t *testing.T) {
	p := testProgram()
	p.Models[0].New = func(seed uint64) train.Model { return &nanModel{bigram: newBigram(seed).(*bigram), n: 4} }
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := Train(p, []string{"-steps", "4", "-log-every", "2", "-eval-batches", "1", "-heldout", "0.3", "-sample", "0",
		"-ckpt", filepath.Join(dir, "c.safetensors"), corpusDir(t)}, &out, &errb, nil, func() {}); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	text, err := os.ReadFile(filepath.Join(dir, "c.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(text)), "\n")
	if len(lines) != 3 || !strings.Contains(lines[2], `"heldout_bpb":null`) || !strings.Contains(lines[2], `"final":true`) {
		t.Fatalf("log (want 2 training lines and the final evaluation with heldout_bpb null):\n%s", text)
	}
	if !strings.Contains(out.String(), "held-out NaN bits per byte") || !strings.Contains(out.String(), "loss plot: ") {
		t.Fatalf("output:\n%s", out.String())
	}
}

// TestFreshRunNotesCheckpoint checks that a fresh run over an existing
// checkpoint says so and how to continue it instead.
func TestFreshRunNotesCheckpoint(t *testing.T) {
	ckpt := filepath.Join(t.TempDir(), "c.safetensors")
	corpus := corpusDir(t)
	for i := range 2 {
		var out, errb bytes.Buffer
		if code := Train(testProgram(), []string{"-steps", "2", "-eval-batches", "1", "-heldout", "0.3", "-sample", "0", "-ckpt", ckpt, corpus},
			&out, &errb, nil, func() {}); code != 0 {
			t.Fatalf("run %d: exit %d: %s", i, code, errb.String())
		}
		noted := strings.Contains(errb.String(), "note: this fresh run replaces the checkpoint "+ckpt+" (step 2); -resume "+ckpt+" continues it instead")
		if noted != (i == 1) {
			t.Fatalf("run %d: stderr %q", i, errb.String())
		}
	}
}
