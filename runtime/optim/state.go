package optim

import (
	"fmt"
	"slices"
	"sort"

	"github.com/bfcdev/bfc/runtime/tensor"
)

// State is an optimizer's state as checkpoints store it: which optimizer,
// its step count, its settings and its per-parameter statistics.
type State struct {
	Kind     string             // "adamw" or "adafactor"
	Step     int                // steps taken (the optimizer's T)
	Settings map[string]float64 // hyperparameters; restoring checks them
	// Tensors holds the statistics of each parameter, named
	// "<parameter>.<kind>": m and v (AdamW, [n]); row ([b, r]), col
	// ([b, c]) of a parameter of b r×c matrices, vec ([n]) of a vector,
	// and m ([n], when β1 > 0) (Adafactor). None before the first step.
	Tensors []StateTensor
}

// StateTensor is one array of optimizer state: F32 or F64 is set.
// Exported tensors share memory with the optimizer until its next step.
type StateTensor struct {
	Name  string
	Shape []int
	F32   []float32
	F64   []float64
}

// ExportState returns the optimizer's state (see State).
func (o *AdamW) ExportState() State {
	s := State{Kind: "adamw", Step: o.T, Settings: o.settings()}
	for i := range o.state {
		st := &o.state[i]
		s.Tensors = append(s.Tensors, anyTensor(st.name+".m", st.n, st.m), anyTensor(st.name+".v", st.n, st.v))
	}
	return s
}

func (o *AdamW) settings() map[string]float64 {
	return map[string]float64{"beta1": o.Beta1, "beta2": o.Beta2, "eps": o.Eps, "weight_decay": o.WeightDecay}
}

// ImportAdamW replaces o's state with s for params (the list later steps
// get). It changes nothing and names the tensor or setting at fault when s
// is another optimizer's, has other settings, or misses, adds or misshapes
// a parameter's moments.
func ImportAdamW[F Float](o *AdamW, params []tensor.Param[F], s State) error {
	ts, err := checkHeader(s, "adamw", o.settings())
	if err != nil {
		return err
	}
	if len(s.Tensors) == 0 {
		o.T, o.state, o.chunks = s.Step, nil, nil
		return nil
	}
	state := make([]adamState, len(params))
	for i, p := range params {
		m, err := take[F](ts, p.Name+".m", []int{len(p.Data)})
		if err != nil {
			return err
		}
		v, err := take[F](ts, p.Name+".v", []int{len(p.Data)})
		if err != nil {
			return err
		}
		state[i] = adamState{name: p.Name, n: len(p.Data), m: m, v: v}
	}
	if err := leftover(ts); err != nil {
		return err
	}
	o.T, o.state, o.chunks = s.Step, state, nil
	return nil
}

// ExportState returns the optimizer's state (see State).
func (o *Adafactor) ExportState() State {
	s := State{Kind: "adafactor", Step: o.T, Settings: o.settings()}
	for i := range o.state {
		st := &o.state[i]
		if st.r > 0 {
			s.Tensors = append(s.Tensors,
				StateTensor{Name: st.name + ".row", Shape: []int{st.batch, st.r}, F64: st.row},
				StateTensor{Name: st.name + ".col", Shape: []int{st.batch, st.c}, F64: st.col})
		} else {
			s.Tensors = append(s.Tensors, StateTensor{Name: st.name + ".vec", Shape: []int{st.n}, F64: st.vec})
		}
		if st.m != nil {
			s.Tensors = append(s.Tensors, anyTensor(st.name+".m", st.n, st.m))
		}
	}
	return s
}

func (o *Adafactor) settings() map[string]float64 {
	rms := 0.0
	if o.ScaleByParamRMS {
		rms = 1
	}
	return map[string]float64{"beta1": o.Beta1, "beta2": o.Beta2, "decay_exponent": o.DecayExponent,
		"clip_threshold": o.ClipThreshold, "eps1": o.Eps1, "eps2": o.Eps2, "weight_decay": o.WeightDecay,
		"scale_by_param_rms": rms}
}

// ImportAdafactor replaces o's state with s for params, checking it as
// ImportAdamW does.
func ImportAdafactor[F Float](o *Adafactor, params []tensor.Param[F], s State) error {
	ts, err := checkHeader(s, "adafactor", o.settings())
	if err != nil {
		return err
	}
	if len(s.Tensors) == 0 {
		o.T, o.state = s.Step, nil
		return nil
	}
	state := make([]adafactorState, len(params))
	for i, p := range params {
		st := adafactorState{name: p.Name, n: len(p.Data)}
		if len(p.Shape) >= 2 && tensor.Numel(p.Shape) == len(p.Data) {
			st.r, st.c = p.Shape[len(p.Shape)-2], p.Shape[len(p.Shape)-1]
			st.batch = tensor.Numel(p.Shape[:len(p.Shape)-2])
			if st.row, err = take[float64](ts, p.Name+".row", []int{st.batch, st.r}); err != nil {
				return err
			}
			if st.col, err = take[float64](ts, p.Name+".col", []int{st.batch, st.c}); err != nil {
				return err
			}
			st.inv = make([]float64, st.c)
		} else if st.vec, err = take[float64](ts, p.Name+".vec", []int{len(p.Data)}); err != nil {
			return err
		}
		if o.Beta1 > 0 {
			m, err := take[F](ts, p.Name+".m", []int{len(p.Data)})
			if err != nil {
				return err
			}
			st.m = m
		}
		state[i] = st
	}
	if err := leftover(ts); err != nil {
		return err
	}
	o.T, o.state = s.Step, state
	return nil
}

// checkHeader checks the kind, step and settings of s and indexes its
// tensors by name.
func checkHeader(s State, kind string, settings map[string]float64) (map[string]StateTensor, error) {
	if s.Kind != kind {
		return nil, fmt.Errorf("optimizer state is for %s, not %s; resume with the optimizer that wrote it", orNone(s.Kind), kind)
	}
	if s.Step < 0 {
		return nil, fmt.Errorf("%s state: step %d is negative", kind, s.Step)
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		got, ok := s.Settings[k]
		if !ok {
			return nil, fmt.Errorf("%s state: setting %s is missing", kind, k)
		}
		if got != settings[k] {
			return nil, fmt.Errorf("%s state: setting %s is %v in the checkpoint but %v now; use the same setting to resume", kind, k, got, settings[k])
		}
	}
	if s.Step == 0 && len(s.Tensors) > 0 {
		return nil, fmt.Errorf("%s state: step 0 but %d tensors of statistics", kind, len(s.Tensors))
	}
	if s.Step > 0 && len(s.Tensors) == 0 {
		return nil, fmt.Errorf("%s state: step %d but no statistics", kind, s.Step)
	}
	ts := make(map[string]StateTensor, len(s.Tensors))
	for _, t := range s.Tensors {
		if _, dup := ts[t.Name]; dup {
			return nil, fmt.Errorf("%s state: tensor %q appears twice", kind, t.Name)
		}
		ts[t.Name] = t
	}
	return ts, nil
}

func orNone(kind string) string {
	if kind == "" {
		return "no optimizer"
	}
	return kind
}

// take removes the tensor called name from ts and returns a copy of its
// values, checking shape and element type.
func take[F Float](ts map[string]StateTensor, name string, shape []int) ([]F, error) {
	t, ok := ts[name]
	if !ok {
		return nil, fmt.Errorf("optimizer state: no tensor %q", name)
	}
	delete(ts, name)
	if !slices.Equal(t.Shape, shape) {
		return nil, fmt.Errorf("optimizer state: tensor %q has shape %v, want %v", name, t.Shape, shape)
	}
	n := tensor.Numel(shape)
	var zero F
	switch any(zero).(type) {
	case float32:
		if len(t.F32) != n {
			return nil, fmt.Errorf("optimizer state: tensor %q needs %d float32 values, has %d float32 and %d float64", name, n, len(t.F32), len(t.F64))
		}
		return any(slices.Clone(t.F32)).([]F), nil
	default:
		if len(t.F64) != n {
			return nil, fmt.Errorf("optimizer state: tensor %q needs %d float64 values, has %d float64 and %d float32", name, n, len(t.F64), len(t.F32))
		}
		return any(slices.Clone(t.F64)).([]F), nil
	}
}

// leftover reports a tensor that belongs to no parameter.
func leftover(ts map[string]StateTensor) error {
	if len(ts) == 0 {
		return nil
	}
	names := make([]string, 0, len(ts))
	for n := range ts {
		names = append(names, n)
	}
	sort.Strings(names)
	return fmt.Errorf("optimizer state: tensor %q belongs to no parameter of this model (%d such tensors)", names[0], len(names))
}

// anyTensor wraps a []float32 or []float64 held as any.
func anyTensor(name string, n int, x any) StateTensor {
	t := StateTensor{Name: name, Shape: []int{n}}
	switch x := x.(type) {
	case []float32:
		t.F32 = x
	case []float64:
		t.F64 = x
	}
	return t
}
