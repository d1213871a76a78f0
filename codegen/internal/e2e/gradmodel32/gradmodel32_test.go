package gradmodel32

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bfcdev/bfc/codegen/internal/e2e/e2etest"
	"github.com/bfcdev/bfc/codegen/internal/e2e/gradmodel"
	"github.com/bfcdev/bfc/runtime/safetensors"
)

func TestStepAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	m := New(Options{Seed: 1})
	tokens, targets := e2etest.Batch(1, Vocab, MaxBatch, MaxSeq, true)
	step := func() {
		if _, err := m.Forward(tokens, targets, MaxBatch, MaxSeq); err != nil {
			t.Fatal(err)
		}
		m.Backward()
	}
	step() // warm up
	if n := testing.AllocsPerRun(20, step); n != 0 {
		t.Errorf("Forward+Backward: %v allocations per step, want 0", n)
	}
	infer := func() {
		if _, err := m.Infer(tokens, MaxBatch, MaxSeq); err != nil {
			t.Fatal(err)
		}
	}
	infer()
	if n := testing.AllocsPerRun(20, infer); n != 0 {
		t.Errorf("Infer: %v allocations per call, want 0", n)
	}
}

func TestMatchesFloat64(t *testing.T) {
	m32, m64 := New(Options{Seed: 7}), gradmodel.New(gradmodel.Options{Seed: 7})
	p32, p64 := m32.Params(), m64.Params()
	for i := range p32 {
		for j := range p32[i].Data {
			if p32[i].Data[j] != float32(p64[i].Data[j]) {
				t.Fatalf("%s[%d]: initialised to %v in float32, %v in float64", p32[i].Name, j, p32[i].Data[j], p64[i].Data[j])
			}
		}
	}
	tokens, targets := e2etest.Batch(2, Vocab, MaxBatch, MaxSeq, true)
	l32 := e2etest.Step(t, m32, tokens, targets, MaxBatch, MaxSeq)
	l64 := e2etest.Step(t, m64, tokens, targets, MaxBatch, MaxSeq)
	if math.Abs(float64(l32)-l64) > 1e-5*l64 {
		t.Errorf("loss %v in float32, %v in float64", l32, l64)
	}
	for i := range p32 {
		var num, den float64
		for j, g := range p32[i].Grad {
			d := float64(g) - p64[i].Grad[j]
			num += d * d
			den += p64[i].Grad[j] * p64[i].Grad[j]
		}
		if math.Sqrt(num) > 1e-3*math.Sqrt(den)+1e-9 {
			t.Errorf("%s: float32 gradient off by %.3g (relative)", p32[i].Name, math.Sqrt(num/den))
		}
	}
}

func TestInferMatchesForward(t *testing.T) {
	tokens, targets := e2etest.Batch(4, Vocab, MaxBatch, MaxSeq, true)
	e2etest.InferMatchesForward(t, New(Options{Seed: 1}), tokens, targets, MaxBatch, MaxSeq, Vocab, 1e-5)
}

func TestBadInputs(t *testing.T) {
	e2etest.BadInputs(t, New(Options{}), Vocab, MaxBatch, MaxSeq)
}

// TestInferKeepsTrainingState checks that Infer between Forward and
// Backward does not change the gradients.
func TestInferKeepsTrainingState(t *testing.T) {
	tokens, targets := e2etest.Batch(8, Vocab, MaxBatch, MaxSeq, true)
	a := New(Options{Seed: 1})
	e2etest.Step(t, a, tokens, targets, MaxBatch, MaxSeq)
	want := e2etest.Grads(a)

	b := New(Options{Seed: 1})
	if _, err := b.Forward(tokens, targets, MaxBatch, MaxSeq); err != nil {
		t.Fatal(err)
	}
	other, _ := e2etest.Batch(9, Vocab, MaxBatch, MaxSeq, false)
	if _, err := b.Infer(other, MaxBatch, MaxSeq); err != nil {
		t.Fatal(err)
	}
	b.Backward()
	got := e2etest.Grads(b)
	for i := range want {
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Fatalf("parameter %d element %d: gradient %v after an Infer, %v without", i, j, got[i][j], want[i][j])
			}
		}
	}
}

func TestFailedForwardDisarmsBackward(t *testing.T) {
	m := New(Options{Seed: 1})
	tokens, targets := e2etest.Batch(8, Vocab, MaxBatch, MaxSeq, true)
	e2etest.Step(t, m, tokens, targets, MaxBatch, MaxSeq)
	want := e2etest.Grads(m)
	if _, err := m.Forward(tokens, targets, MaxBatch+1, MaxSeq); err == nil {
		t.Fatal("no error")
	}
	m.Backward()
	got := e2etest.Grads(m)
	for i := range want {
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Fatal("Backward after a failed Forward changed the gradients")
			}
		}
	}
}

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	m := New(Options{Seed: 11})
	e2etest.Perturb(m.Params(), 12, 0.1)
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata["bfc.model"] != "GradModel" || f.Metadata["bfc.format"] != "1" {
		t.Errorf("metadata %v", f.Metadata)
	}
	l, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range l.Params() {
		q := m.Params()[i]
		if p.Name != q.Name {
			t.Fatalf("parameter %d: %s, want %s", i, p.Name, q.Name)
		}
		for j := range p.Data {
			if p.Data[j] != q.Data[j] {
				t.Fatalf("%s[%d]: loaded %v, saved %v", p.Name, j, p.Data[j], q.Data[j])
			}
		}
	}
	tokens, _ := e2etest.Batch(1, Vocab, 2, 3, false)
	a, _ := m.Infer(tokens, 2, 3)
	b, _ := l.Infer(tokens, 2, 3)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("logit %d: %v from the loaded model, %v from the saved one", i, b[i], a[i])
		}
	}
}

// TestLoadRefuses writes broken checkpoints and requires Load to refuse
// each with an error naming the file and the tensor, leaving the model as
// it was.
func TestLoadRefuses(t *testing.T) {
	dir := t.TempDir()
	good := New(Options{Seed: 11})
	var tensors []safetensors.Tensor
	for _, p := range good.Params() {
		tensors = append(tensors, safetensors.FromFloat32(p.Name, p.Shape, p.Data))
	}
	meta := map[string]string{"bfc.model": "GradModel", "bfc.format": "1"}
	edit := func(f func(ts []safetensors.Tensor) []safetensors.Tensor) []safetensors.Tensor {
		ts := append([]safetensors.Tensor(nil), tensors...)
		return f(ts)
	}
	find := func(ts []safetensors.Tensor, name string) int {
		for i, x := range ts {
			if x.Name == name {
				return i
			}
		}
		t.Fatalf("no %s", name)
		return -1
	}
	cases := []struct {
		name    string
		tensors []safetensors.Tensor
		meta    map[string]string
		want    string
	}{
		{"shape", edit(func(ts []safetensors.Tensor) []safetensors.Tensor {
			i := find(ts, "head.weight")
			ts[i].Shape = []int{ts[i].Shape[1], ts[i].Shape[0]}
			return ts
		}), meta, `"head.weight" has shape [11 8]`},
		{"missing", edit(func(ts []safetensors.Tensor) []safetensors.Tensor {
			i := find(ts, "blocks.1.ffn.up")
			return append(ts[:i], ts[i+1:]...)
		}), meta, `no tensor "blocks.1.ffn.up"`},
		{"extra", edit(func(ts []safetensors.Tensor) []safetensors.Tensor {
			return append(ts, safetensors.FromFloat32("blocks.2.ffn.up", []int{2}, []float32{1, 2}))
		}), meta, `"blocks.2.ffn.up" is not a parameter`},
		{"dtype", edit(func(ts []safetensors.Tensor) []safetensors.Tensor {
			i := find(ts, "norm.bias")
			ts[i] = safetensors.FromFloat64("norm.bias", []int{D}, make([]float64, D))
			return ts
		}), meta, `"norm.bias" has dtype F64`},
		{"model", tensors, map[string]string{"bfc.model": "CharLM"}, `model "CharLM"`},
	}
	for _, c := range cases {
		path := filepath.Join(dir, c.name+".safetensors")
		if err := safetensors.Save(path, c.tensors, c.meta); err != nil {
			t.Fatal(err)
		}
		m := New(Options{Seed: 5})
		data := make([][]float32, 0)
		for _, p := range m.Params() {
			data = append(data, append([]float32(nil), p.Data...))
		}
		err := m.Load(path)
		if err == nil {
			t.Errorf("%s: loaded", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %q, want it to name %s and contain %q", c.name, err, path, c.want)
		}
		for i, p := range m.Params() {
			for j := range p.Data {
				if p.Data[j] != data[i][j] {
					t.Fatalf("%s: a refused Load changed %s", c.name, p.Name)
				}
			}
		}
		if _, err := Load(path); err == nil {
			t.Errorf("%s: package Load accepted it", c.name)
		}
	}
	if _, err := Load(filepath.Join(dir, "absent.safetensors")); err == nil {
		t.Error("Load of a missing file: no error")
	}
}
