package optim

import (
	"math"
	"slices"
	"testing"

	"github.com/bfcdev/bfc/runtime/tensor"
	"github.com/stretchr/testify/require"
)

func stateParams[F Float](seed uint64) []tensor.Param[F] {
	r := tensor.NewRNG(seed)
	ps := []tensor.Param[F]{
		tensor.NewParam[F]("experts", []int{2, 3, 4}, true),
		tensor.NewParam[F]("w", []int{4, 5}, true),
		tensor.NewParam[F]("gain", []int{5}, false),
	}
	for i := range ps {
		tensor.InitNormal(ps[i].Data, 1, r)
	}
	return ps
}

func cloneParams[F Float](ps []tensor.Param[F]) []tensor.Param[F] {
	out := make([]tensor.Param[F], len(ps))
	for i, p := range ps {
		out[i] = p
		out[i].Shape = slices.Clone(p.Shape)
		out[i].Data = slices.Clone(p.Data)
		out[i].Grad = slices.Clone(p.Grad)
	}
	return out
}

// fillGrads sets gradients that depend on the step only.
func fillGrads[F Float](ps []tensor.Param[F], step int) {
	r := tensor.NewRNG(uint64(1000 + step))
	for i := range ps {
		tensor.InitNormal(ps[i].Grad, 1, r)
	}
}

// deepCopy copies a state, as a checkpoint's save and load do.
func deepCopy(s State) State {
	c := s
	c.Settings = map[string]float64{}
	for k, v := range s.Settings {
		c.Settings[k] = v
	}
	c.Tensors = nil
	for _, t := range s.Tensors {
		c.Tensors = append(c.Tensors, StateTensor{Name: t.Name, Shape: slices.Clone(t.Shape), F32: slices.Clone(t.F32), F64: slices.Clone(t.F64)})
	}
	return c
}

func requireSameBits[F Float](t *testing.T, a, b []tensor.Param[F]) {
	t.Helper()
	for i := range a {
		for j := range a[i].Data {
			x, y := float64(a[i].Data[j]), float64(b[i].Data[j])
			if math.Float64bits(x) != math.Float64bits(y) {
				t.Fatalf("%s[%d]: %v straight, %v after restoring", a[i].Name, j, x, y)
			}
		}
	}
}

// testResume runs 3 steps, copies the state into a fresh optimizer, and
// checks that 4 more steps match the optimizer that never stopped.
func testResume[F Float, O any](t *testing.T, newOpt func() *O, step func(*O, []tensor.Param[F], float64),
	export func(*O) State, restore func(*O, []tensor.Param[F], State) error) {
	straight := stateParams[F](7)
	o := newOpt()
	for s := 1; s <= 3; s++ {
		fillGrads(straight, s)
		step(o, straight, 0.01)
	}
	st := deepCopy(export(o))
	require.Equal(t, 3, st.Step)
	resumed := cloneParams(straight)
	o2 := newOpt()
	require.NoError(t, restore(o2, resumed, st))
	for s := 4; s <= 7; s++ {
		fillGrads(straight, s)
		fillGrads(resumed, s)
		step(o, straight, 0.01)
		step(o2, resumed, 0.01)
	}
	requireSameBits(t, straight, resumed)
	// The restored optimizer really carries the moments: a fresh one
	// starting at step 4 ends elsewhere.
	fresh := cloneParams(straight)
	copy(fresh[0].Data, resumed[0].Data)
	o3 := newOpt()
	fillGrads(fresh, 8)
	fillGrads(resumed, 8)
	step(o3, fresh, 0.01)
	step(o2, resumed, 0.01)
	require.NotEqual(t, fresh[0].Data, resumed[0].Data)
}

func TestAdamWStateResume(t *testing.T) {
	newOpt := func() *AdamW { return NewAdamW(AdamWConfig{}) }
	export := func(o *AdamW) State { return o.ExportState() }
	testResume(t, newOpt, StepAdamW[float32], export, ImportAdamW[float32])
	testResume(t, newOpt, StepAdamW[float64], export, ImportAdamW[float64])
}

func TestAdafactorStateResume(t *testing.T) {
	export := func(o *Adafactor) State { return o.ExportState() }
	for _, cfg := range []AdafactorConfig{{}, {Beta1: 0.9, ScaleByParamRMS: true, WeightDecay: 0.1}, {DecayExponent: 0.8}} {
		newOpt := func() *Adafactor { return NewAdafactor(cfg) }
		testResume(t, newOpt, StepAdafactor[float32], export, ImportAdafactor[float32])
		testResume(t, newOpt, StepAdafactor[float64], export, ImportAdafactor[float64])
	}
}

func TestStateLayout(t *testing.T) {
	ps := stateParams[float32](1)
	o := NewAdafactor(AdafactorConfig{Beta1: 0.5})
	fillGrads(ps, 1)
	StepAdafactor(o, ps, 0.1)
	var names []string
	shapes := map[string][]int{}
	for _, x := range o.ExportState().Tensors {
		names = append(names, x.Name)
		shapes[x.Name] = x.Shape
	}
	require.Equal(t, []string{"experts.row", "experts.col", "experts.m", "w.row", "w.col", "w.m", "gain.vec", "gain.m"}, names)
	require.Equal(t, []int{2, 3}, shapes["experts.row"])
	require.Equal(t, []int{2, 4}, shapes["experts.col"])
	require.Equal(t, []int{24}, shapes["experts.m"])
	require.Equal(t, []int{5}, shapes["gain.vec"])

	// Before the first step there is nothing but the settings.
	s := NewAdamW(AdamWConfig{}).ExportState()
	require.Equal(t, "adamw", s.Kind)
	require.Zero(t, s.Step)
	require.Empty(t, s.Tensors)
	o2 := NewAdamW(AdamWConfig{})
	require.NoError(t, ImportAdamW(o2, ps, s))
	require.Zero(t, o2.T)
}

func TestImportErrors(t *testing.T) {
	ps := stateParams[float32](1)
	o := NewAdamW(AdamWConfig{})
	fillGrads(ps, 1)
	StepAdamW(o, ps, 0.1)
	good := o.ExportState()
	af := NewAdafactor(AdafactorConfig{})
	StepAdafactor(af, cloneParams(ps), 0.1)

	edit := func(f func(*State)) State {
		s := deepCopy(good)
		f(&s)
		return s
	}
	drop := func(name string) func(*State) {
		return func(s *State) {
			s.Tensors = slices.DeleteFunc(s.Tensors, func(x StateTensor) bool { return x.Name == name })
		}
	}
	cases := []struct {
		name string
		s    State
		want string
	}{
		{"other optimizer", af.ExportState(), "optimizer state is for adafactor, not adamw"},
		{"no optimizer", State{}, "optimizer state is for no optimizer, not adamw"},
		{"setting", edit(func(s *State) { s.Settings["beta2"] = 0.99 }), "setting beta2 is 0.99 in the checkpoint but 0.95 now"},
		{"missing setting", edit(func(s *State) { delete(s.Settings, "eps") }), "setting eps is missing"},
		{"missing tensor", edit(drop("w.v")), `no tensor "w.v"`},
		{"no statistics", edit(func(s *State) { s.Tensors = nil }), "step 1 but no statistics"},
		{"shape", edit(func(s *State) { s.Tensors[2].Shape = []int{4, 5} }), `tensor "w.m" has shape [4 5], want [20]`},
		{"length", edit(func(s *State) { s.Tensors[2].F32 = s.Tensors[2].F32[:3] }), `tensor "w.m" needs 20 float32 values, has 3 float32`},
		{"dtype", edit(func(s *State) { s.Tensors[2].F64, s.Tensors[2].F32 = make([]float64, 20), nil }), `tensor "w.m" needs 20 float32 values, has 0 float32 and 20 float64`},
		{"extra", edit(func(s *State) {
			s.Tensors = append(s.Tensors, StateTensor{Name: "zz.m", Shape: []int{1}, F32: []float32{1}})
		}), `tensor "zz.m" belongs to no parameter`},
		{"duplicate", edit(func(s *State) { s.Tensors = append(s.Tensors, s.Tensors[0]) }), `appears twice`},
		{"negative step", edit(func(s *State) { s.Step = -1 }), "step -1 is negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := NewAdamW(AdamWConfig{})
			StepAdamW(o, cloneParams(ps), 0.5)
			before := deepCopy(o.ExportState())
			require.ErrorContains(t, ImportAdamW(o, ps, c.s), c.want)
			require.Equal(t, before, deepCopy(o.ExportState()), "a failed import changed the optimizer")
		})
	}
	// Adafactor checks its own tensors the same way.
	s := deepCopy(af.ExportState())
	s.Tensors = slices.DeleteFunc(s.Tensors, func(x StateTensor) bool { return x.Name == "experts.col" })
	require.ErrorContains(t, ImportAdafactor(NewAdafactor(AdafactorConfig{}), ps, s), `no tensor "experts.col"`)
	require.ErrorContains(t, ImportAdafactor(NewAdafactor(AdafactorConfig{Beta1: 0.9}), ps, deepCopy(af.ExportState())), "setting beta1 is 0 in the checkpoint but 0.9 now")
	require.ErrorContains(t, ImportAdafactor(NewAdafactor(AdafactorConfig{}), ps, good), "optimizer state is for adamw, not adafactor")
}
