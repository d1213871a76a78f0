package train

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bfcdev/bfc/runtime/data"
	"github.com/bfcdev/bfc/runtime/plot"
	"github.com/bfcdev/bfc/runtime/safetensors"
)

// nanAfter returns a NaN loss from its n+1st Forward on.
type nanAfter struct {
	*bigram
	n int
}

func (m *nanAfter) Forward(tokens, targets []int32, batch, seq int) (float32, error) {
	loss, err := m.bigram.Forward(tokens, targets, batch, seq)
	if m.calls > m.n {
		return float32(math.NaN()), err
	}
	return loss, err
}

// TestLogKeepsNaNLines checks that a NaN held-out loss is logged as null on
// a line of its own, and that LogEvery adds training-loss lines.
func TestLogKeepsNaNLines(t *testing.T) {
	m := &nanAfter{bigram: newBigram(), n: 3}
	var log bytes.Buffer
	res, err := Run(m, Config{Steps: 3, Batch: 2, Seq: 8, LR: 0.01, EvalBatches: 1, Log: &log, LogEvery: 1}, bigramCorpus(), bigramCorpus())
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(res.HeldOutBPB) {
		t.Fatalf("held-out %v, want NaN", res.HeldOutBPB)
	}
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d log lines, want 3 training lines and the final evaluation:\n%s", len(lines), log.String())
	}
	for i, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("line %d %q: %v", i+1, l, err)
		}
		if rec["step"] != float64(min(i+1, 3)) {
			t.Errorf("line %d: step %v", i+1, rec["step"])
		}
		tl, bpb := rec["train_loss"].(float64), rec["train_bpb"].(float64)
		if math.Abs(tl/math.Ln2-bpb) > 1e-12 || tl < 5 || tl > 6 {
			t.Errorf("line %d: train_loss %v, train_bpb %v (uniform loss is ln 256 = 5.55)", i+1, tl, bpb)
		}
	}
	var last map[string]any
	json.Unmarshal([]byte(lines[3]), &last)
	if v, ok := last["heldout_bpb"]; !ok || v != nil || last["final"] != true {
		t.Fatalf("final line %s: want heldout_bpb null", lines[3])
	}
	c, err := plot.ReadLog(&log, "log")
	if err != nil || len(c.Train) != 4 || len(c.HeldOut) != 0 {
		t.Fatalf("plot reads %d training and %d held-out points (%v); want 4 and 0", len(c.Train), len(c.HeldOut), err)
	}
}

// TestStreamRunMatchesCorpus trains on a memory-mapped stream and on the
// same bytes in memory: the parameters and the data signature agree, and
// either resumes the other's checkpoint.
func TestStreamRunMatchesCorpus(t *testing.T) {
	dir := t.TempDir()
	text := bigramCorpus().Data
	file := filepath.Join(dir, "corpus.txt")
	if err := os.WriteFile(file, text, 0o644); err != nil {
		t.Fatal(err)
	}
	stream, err := data.Open([]string{file}, data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()

	cfg := bigramConfig()
	a, b := newBigram(), newBigram()
	cfg.Checkpoint = filepath.Join(dir, "a.safetensors")
	if _, err := Run(a, cfg, bigramCorpus(), bigramCorpus()); err != nil {
		t.Fatal(err)
	}
	cfg.Checkpoint = filepath.Join(dir, "b.safetensors")
	if _, err := Run(b, cfg, stream, stream); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.w, b.w) {
		t.Fatal("training on a stream and on the same bytes in memory gives different parameters")
	}
	h := fnv.New64a()
	h.Write(text)
	want := fmt.Sprintf("%d bytes, fnv64a %016x", len(text), h.Sum64())
	for _, p := range []string{"a", "b"} {
		md, err := ReadMetadata(filepath.Join(dir, p+".safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		if md["bfc.train.data"] != want {
			t.Errorf("%s: data signature %q, want %q", p, md["bfc.train.data"], want)
		}
	}
	// b's checkpoint resumes on the in-memory corpus: the signatures agree.
	cfg.Resume, cfg.Checkpoint = filepath.Join(dir, "b.safetensors"), ""
	if _, err := Run(newBigram(), cfg, bigramCorpus(), bigramCorpus()); err != nil {
		t.Fatalf("resuming a stream run on the same bytes in memory: %v", err)
	}
}

// TestCheckpointRecordsSource checks that Config.Metadata reaches the
// checkpoint and that CheckpointSource reads it back.
func TestCheckpointRecordsSource(t *testing.T) {
	dir := t.TempDir()
	src := &ModelSource{Main: "m.bf", Files: map[string]string{"m.bf": "model M {}\n", "lib/b.bf": "block B() {}\n"}, Model: "M", Set: map[string]string{"d": "64"}}
	cfg := bigramConfig()
	cfg.Steps = 2
	cfg.Checkpoint = filepath.Join(dir, "ckpt.safetensors")
	cfg.Metadata = map[string]string{MetaSource: src.Encode(), MetaModel: "m"}
	if _, err := Run(newBigram(), cfg, bigramCorpus(), bigramCorpus()); err != nil {
		t.Fatal(err)
	}
	got, err := CheckpointSource(cfg.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	if got.Main != "m.bf" || got.Model != "M" || got.Files["lib/b.bf"] != "block B() {}\n" || got.Set["d"] != "64" || len(got.Files) != 2 {
		t.Fatalf("source read back: %+v", got)
	}
	f, err := safetensors.Load(cfg.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata[MetaModel] != "m" || f.Metadata["bfc.train.step"] != "2" {
		t.Fatalf("metadata: %v", f.Metadata)
	}

	// Reserved keys are refused before training.
	cfg.Metadata = map[string]string{"bfc.train.step": "9"}
	if _, err := Run(newBigram(), cfg, bigramCorpus(), bigramCorpus()); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Fatalf("reserved metadata key: got %v", err)
	}

	// A checkpoint without source, and files that are not safetensors.
	cfg.Metadata = nil
	cfg.Checkpoint = filepath.Join(dir, "plain.safetensors")
	if _, err := Run(newBigram(), cfg, bigramCorpus(), bigramCorpus()); err != nil {
		t.Fatal(err)
	}
	if _, err := CheckpointSource(cfg.Checkpoint); err == nil || !strings.Contains(err.Error(), "records no .bf source") {
		t.Fatalf("checkpoint without source: got %v", err)
	}
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, []byte("hello, this is not a checkpoint"), 0o644)
	if _, err := CheckpointSource(junk); err == nil || !strings.Contains(err.Error(), "not a safetensors file") {
		t.Fatalf("junk: got %v", err)
	}
	if _, err := CheckpointSource(filepath.Join(dir, "missing")); err == nil || !os.IsNotExist(err) {
		t.Fatalf("missing file: got %v", err)
	}
}
