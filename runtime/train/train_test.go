package train

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/bfcdev/bfc/runtime/data"
	"github.com/bfcdev/bfc/runtime/moe"
	"github.com/bfcdev/bfc/runtime/tensor"
)

// bigram is a tiny trainable model: logits[t] = W[token[t]], a 256×256 table.
type bigram struct {
	w, g    []float32
	tokens  []int32
	targets []int32
	probs   []float64
	params  []tensor.Param[float32]
	calls   int
}

func newBigram() *bigram {
	m := &bigram{w: make([]float32, 256*256), g: make([]float32, 256*256)}
	m.params = []tensor.Param[float32]{{Name: "w", Shape: []int{256, 256}, Data: m.w, Grad: m.g, Decay: false}}
	return m
}

func (m *bigram) Forward(tokens, targets []int32, batch, seq int) (float32, error) {
	m.calls++
	m.tokens = append(m.tokens[:0], tokens...)
	m.targets = append(m.targets[:0], targets...)
	var loss float64
	m.probs = m.probs[:0]
	for t, tok := range tokens {
		row := m.w[int(tok)*256 : int(tok)*256+256]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, float64(v))
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v) - mx)
		}
		for _, v := range row {
			m.probs = append(m.probs, math.Exp(float64(v)-mx)/s)
		}
		loss += -math.Log(m.probs[t*256+int(targets[t])])
	}
	return float32(loss / float64(len(tokens))), nil
}

func (m *bigram) Backward() {
	clear(m.g)
	n := float64(len(m.tokens))
	for t, tok := range m.tokens {
		for j := 0; j < 256; j++ {
			d := m.probs[t*256+j]
			if j == int(m.targets[t]) {
				d--
			}
			m.g[int(tok)*256+j] += float32(d / n)
		}
	}
}

func (m *bigram) Infer(tokens []int32, batch, seq int) ([]float32, error) {
	out := make([]float32, 0, len(tokens)*256)
	for _, tok := range tokens {
		out = append(out, m.w[int(tok)*256:int(tok)*256+256]...)
	}
	return out, nil
}

func (m *bigram) Params() []tensor.Param[float32] { return m.params }
func (m *bigram) Save(string) error               { return nil }

func TestEvaluateIsBitsPerByte(t *testing.T) {
	m := newBigram() // all-zero table: uniform over 256 bytes = 8 bits per byte
	c := &data.Corpus{Data: []byte(strings.Repeat("abcdefgh", 100))}
	bpb, err := Evaluate(m, c, 2, 16, 3)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(bpb-8) > 1e-5 {
		t.Fatalf("uniform model: got %v bits per byte, want 8", bpb)
	}
	if m.calls != 3 {
		t.Fatalf("Evaluate ran %d batches, want 3", m.calls)
	}
	// The same windows every call.
	again, _ := Evaluate(m, c, 2, 16, 3)
	if again != bpb {
		t.Fatalf("Evaluate is not repeatable: %v then %v", bpb, again)
	}
	if _, err := Evaluate(m, &data.Corpus{Data: []byte("short")}, 1, 16, 1); err == nil {
		t.Fatal("Evaluate accepted data shorter than one window")
	}
}

func TestRunLearnsAndLogs(t *testing.T) {
	m := newBigram()
	text := []byte(strings.Repeat("the cat sat on the mat. ", 200))
	c := &data.Corpus{Data: text}
	var prog, log bytes.Buffer
	res, err := Run(m, Config{
		Steps: 60, Batch: 4, Seq: 32, LR: 0.1, Warmup: 5, EvalEvery: 20, EvalBatches: 2,
		Seed: 1, Progress: &prog, Log: &log,
	}, c, c)
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps != 60 || res.Tokens != 60*4*32 {
		t.Fatalf("got %d steps and %d tokens", res.Steps, res.Tokens)
	}
	// A bigram model of this text needs well under 2 bits per byte.
	if res.HeldOutBPB > 2 {
		t.Fatalf("held-out %v bits per byte after training; want < 2", res.HeldOutBPB)
	}
	if !strings.Contains(prog.String(), "step 60/60") || !strings.Contains(prog.String(), "tok/s") {
		t.Fatalf("progress lacks step and rate:\n%s", prog.String())
	}
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	if len(lines) != 3 { // steps 20, 40 and the final evaluation
		t.Fatalf("log has %d lines, want 3:\n%s", len(lines), log.String())
	}
	var last map[string]any
	if err := json.Unmarshal([]byte(lines[2]), &last); err != nil {
		t.Fatal(err)
	}
	if last["final"] != true || last["step"].(float64) != 60 {
		t.Fatalf("last log line: %v", last)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	c := &data.Corpus{Data: bytes.Repeat([]byte("x"), 100)}
	for name, cfg := range map[string]Config{
		"batch":    {Steps: 1, Batch: 0, Seq: 8, LR: 1},
		"steps":    {Steps: 0, Batch: 1, Seq: 8, LR: 1},
		"lr":       {Steps: 1, Batch: 1, Seq: 8, LR: 0},
		"seq":      {Steps: 1, Batch: 1, Seq: 200, LR: 1},
		"schedule": {Steps: 1, Batch: 1, Seq: 8, LR: 1, Schedule: "linear"},
	} {
		if _, err := Run(newBigram(), cfg, c, c); err == nil {
			t.Errorf("%s: Run accepted %+v", name, cfg)
		}
	}
}

func TestGenerateGreedy(t *testing.T) {
	m := newBigram()
	// Make each byte predict the next letter of the alphabet.
	for b := 'a'; b < 'z'; b++ {
		m.w[int(b)*256+int(b+1)] = 5
	}
	out, err := Generate(m, []byte("a"), 5, 3, 8, 0, 1, tensor.NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "abcdef" {
		t.Fatalf("greedy generation gave %q, want %q", out, "abcdef")
	}
	if _, err := Generate(m, nil, 5, 1, 8, 0, 1, tensor.NewRNG(1)); err == nil {
		t.Fatal("Generate accepted an empty prompt")
	}
}

func TestClockAndBar(t *testing.T) {
	if got := clock(125e9); got != "2:05" {
		t.Fatalf("clock(125s) = %q", got)
	}
	if got := bar(0.5, 10); got != "[#####.....]" {
		t.Fatalf("bar(0.5) = %q", got)
	}
}

// routedBigram reports fixed routing statistics and an auxiliary loss, as a
// generated MoE model does.
type routedBigram struct{ *bigram }

const fakeAux = 0.5

func (m routedBigram) Forward(tokens, targets []int32, batch, seq int) (float32, error) {
	ce, err := m.bigram.Forward(tokens, targets, batch, seq)
	return ce + fakeAux, err
}

func (m routedBigram) Losses() (ce, aux float32) {
	l, _ := m.bigram.Forward(m.tokens, m.targets, 1, len(m.tokens))
	return l, fakeAux
}

func (m routedBigram) RoutingStats() []moe.LayerStats {
	return []moe.LayerStats{{Name: "blocks.0.moe", Stats: moe.Stats{Tokens: 10, Load: []int{4, 6}, PerToken: [4]int{1, 8, 1, 0}, Dropped: 2, Choices: 20}}}
}

func TestRunReportsRouting(t *testing.T) {
	m := routedBigram{newBigram()}
	c := &data.Corpus{Data: []byte(strings.Repeat("abcabcabd", 100))}
	var prog, log bytes.Buffer
	res, err := Run(m, Config{Steps: 4, Batch: 2, Seq: 8, LR: 0.01, EvalBatches: 1, Progress: &prog, Log: &log}, c, c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"aux 0.5000", "moe: 0 experts 10%, 2+ 10%, dropped 10.0%", "blocks.0.moe: load min/max 4/6"} {
		if !strings.Contains(prog.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, prog.String())
		}
	}
	var rec map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(log.Bytes()), &rec); err != nil {
		t.Fatal(err)
	}
	r := rec["routing"].([]any)[0].(map[string]any)
	if r["layer"] != "blocks.0.moe" || r["drop_rate"].(float64) != 0.1 {
		t.Fatalf("routing record: %v", r)
	}
	// Bits per byte count the cross-entropy only, never the auxiliary loss.
	bpb, _ := Evaluate(m.bigram, c, 2, 8, 1)
	if math.Abs(res.HeldOutBPB-bpb) > 1e-6 {
		t.Fatalf("held-out %v includes the aux loss; cross-entropy alone gives %v", res.HeldOutBPB, bpb)
	}
}

// poisoned puts a NaN into the gradient on the given steps.
type poisoned struct {
	*bigram
	step  int
	steps map[int]bool
}

func (m *poisoned) Backward() {
	m.step++
	m.bigram.Backward()
	if m.steps[m.step] {
		m.g[7] = float32(math.NaN())
	}
}

func TestNonFiniteStops(t *testing.T) {
	m := &poisoned{bigram: newBigram(), steps: map[int]bool{3: true}}
	c := &data.Corpus{Data: []byte(strings.Repeat("hello world ", 50))}
	_, err := Run(m, Config{Steps: 10, Batch: 2, Seq: 8, LR: 0.01, EvalBatches: 1}, c, c)
	if err == nil || !strings.Contains(err.Error(), "step 3: the gradient of w is not finite") {
		t.Fatalf("got %v, want an error naming step 3 and parameter w", err)
	}
}

func TestNonFiniteSkips(t *testing.T) {
	m := &poisoned{bigram: newBigram(), steps: map[int]bool{2: true, 5: true}}
	c := &data.Corpus{Data: []byte(strings.Repeat("hello world ", 50))}
	var prog bytes.Buffer
	res, err := Run(m, Config{Steps: 8, Batch: 2, Seq: 8, LR: 0.01, EvalBatches: 1, NonFinite: "skip", Progress: &prog}, c, c)
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped != 2 {
		t.Fatalf("skipped %d steps, want 2", res.Skipped)
	}
	for _, v := range m.w {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatal("a skipped step still changed the parameters with a NaN")
		}
	}
	if !strings.Contains(prog.String(), "step 5: the gradient of w is not finite (the first such parameter); step skipped") {
		t.Fatalf("progress does not report the skipped step:\n%s", prog.String())
	}
	if _, err := Run(newBigram(), Config{Steps: 1, Batch: 1, Seq: 8, LR: 1, NonFinite: "ignore"}, c, c); err == nil {
		t.Fatal("Run accepted the non-finite policy \"ignore\"")
	}
}
