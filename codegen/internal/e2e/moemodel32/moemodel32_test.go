package moemodel32

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/bfcdev/bfc/codegen/internal/e2e/e2etest"
	"github.com/bfcdev/bfc/codegen/internal/e2e/moemodel"
	"github.com/bfcdev/bfc/runtime/safetensors"
)

func TestStepAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	m := New(Options{Seed: 1})
	tokens, targets := e2etest.Batch(1, Vocab, MaxBatch, MaxSeq, true)
	small, smallTargets := e2etest.Batch(2, Vocab, 2, MaxSeq-1, true)
	step := func() {
		if _, err := m.Forward(tokens, targets, MaxBatch, MaxSeq); err != nil {
			t.Fatal(err)
		}
		m.Backward()
		// Another shape in the same step: the moe workspaces are sized for
		// the maxima.
		if _, err := m.Forward(small, smallTargets, 2, MaxSeq-1); err != nil {
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

// TestMatchesFloat64: same initialisation, same routing, loss and
// gradients within float32 rounding.
func TestMatchesFloat64(t *testing.T) {
	m32, m64 := New(Options{Seed: 7}), moemodel.New(moemodel.Options{Seed: 7})
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
	if !e2etest.SameRouting(m32.RoutingStats(), m64.RoutingStats()) {
		t.Fatalf("routing differs between float32 and float64:\n%v\n%v", m32.RoutingStats(), m64.RoutingStats())
	}
	if math.Abs(float64(l32)-l64) > 1e-5*l64 {
		t.Errorf("loss %v in float32, %v in float64", l32, l64)
	}
	ce32, aux32 := m32.Losses()
	ce64, aux64 := m64.Losses()
	if math.Abs(float64(ce32)-ce64) > 1e-5*ce64 || math.Abs(float64(aux32)-aux64) > 1e-5*aux64 {
		t.Errorf("losses %v, %v in float32; %v, %v in float64", ce32, aux32, ce64, aux64)
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

func TestSaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.safetensors")
	m := New(Options{Seed: 11})
	e2etest.Perturb(m.Params(), 12, 0.1)
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata["bfc.model"] != "MoEModel" {
		t.Errorf("metadata %v", f.Metadata)
	}
	// The expert tensors keep their logical 3-D shapes.
	for name, shape := range map[string][]int{
		"blocks.0.ec.router":         {D, 4},
		"blocks.0.ec.experts.up":     {4, D, 6},
		"blocks.0.ec.experts.down":   {4, 6, D},
		"blocks.1.top2.experts.up":   {3, D, 10},
		"blocks.1.top2.experts.down": {3, 5, D},
	} {
		x, ok := f.Get(name)
		if !ok || !equal(x.Shape, shape) {
			t.Errorf("%s: %v (found %v), want shape %v", name, x.Shape, ok, shape)
		}
	}
	l, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range l.Params() {
		q := m.Params()[i]
		for j := range p.Data {
			if p.Name != q.Name || p.Data[j] != q.Data[j] {
				t.Fatalf("%s[%d]: loaded %v, saved %s %v", p.Name, j, p.Data[j], q.Name, q.Data[j])
			}
		}
	}
	tokens, targets := e2etest.Batch(1, Vocab, 2, 3, true)
	a, _ := m.Infer(tokens, 2, 3)
	b, _ := l.Infer(tokens, 2, 3)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("logit %d: %v from the loaded model, %v from the saved one", i, b[i], a[i])
		}
	}
	la := e2etest.Step(t, m, tokens, targets, 2, 3)
	lb := e2etest.Step(t, l, tokens, targets, 2, 3)
	if la != lb || !e2etest.SameRouting(m.RoutingStats(), l.RoutingStats()) {
		t.Errorf("loss %v and routing %v after Load, %v and %v before", lb, l.RoutingStats(), la, m.RoutingStats())
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
