package train

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bfcdev/bfc/runtime/data"
	"github.com/bfcdev/bfc/runtime/optim"
	"github.com/bfcdev/bfc/runtime/safetensors"
	"github.com/bfcdev/bfc/runtime/tensor"
)

// A training checkpoint is one safetensors file. Its tensors are the
// model's parameters, named and shaped as the generated Save writes them,
// then the training state under the prefix "train.": the optimizer's
// statistics ("train.optim.<parameter>.<m|v|row|col|vec>") and the recent
// losses behind the reported training loss. Its metadata holds the format
// version, the step, the sampler's RNG state, the optimizer's step count and
// settings, and the run settings and training data that resuming must match
// (see Config.Resume).
const (
	stateFormat = "1"
	statePrefix = "train."
	optimPrefix = "train.optim."

	keyFormat = "bfc.train.format"
)

// runState is what a checkpoint restores besides parameters and optimizer.
type runState struct {
	step        int // the last step taken (or skipped)
	resultSteps int // Result.Steps: the last step that updated the parameters
	tokens      int64
	skipped     int
	elapsed     time.Duration
	rng         [2]uint64
	recent      []float64
	recentAux   []float64
}

// optimizer is AdamW or Adafactor as Run uses them.
type optimizer interface {
	step(params []tensor.Param[float32], lr float64)
	export() optim.State
	restore(params []tensor.Param[float32], s optim.State) error
}

type adamw struct{ o *optim.AdamW }

func (a adamw) step(p []tensor.Param[float32], lr float64) { optim.StepAdamW(a.o, p, lr) }
func (a adamw) export() optim.State                        { return a.o.ExportState() }
func (a adamw) restore(p []tensor.Param[float32], s optim.State) error {
	return optim.ImportAdamW(a.o, p, s)
}

type adafactor struct{ o *optim.Adafactor }

func (a adafactor) step(p []tensor.Param[float32], lr float64) { optim.StepAdafactor(a.o, p, lr) }
func (a adafactor) export() optim.State                        { return a.o.ExportState() }
func (a adafactor) restore(p []tensor.Param[float32], s optim.State) error {
	return optim.ImportAdafactor(a.o, p, s)
}

func (cfg *Config) newOptimizer() optimizer {
	if cfg.Optimizer == "adafactor" {
		return adafactor{optim.NewAdafactor(optim.AdafactorConfig{WeightDecay: cfg.WeightDecay})}
	}
	wd := cfg.WeightDecay
	if wd == 0 {
		wd = -1 // AdamWConfig reads 0 as "default"; a negative value turns decay off
	}
	return adamw{optim.NewAdamW(optim.AdamWConfig{WeightDecay: wd})}
}

// settings returns the run settings a resumed run must share, by Config
// field name.
func (cfg *Config) settings() map[string]string {
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	opt := cfg.Optimizer
	if opt == "" {
		opt = "adamw"
	}
	sched := cfg.Schedule
	if sched == "" {
		sched = "cosine"
	}
	return map[string]string{
		"Optimizer": opt, "Schedule": sched, "Batch": strconv.Itoa(cfg.Batch), "Seq": strconv.Itoa(cfg.Seq),
		"Steps": strconv.Itoa(cfg.Steps), "Duration": cfg.Duration.String(), "LR": f(cfg.LR), "MinLR": f(cfg.MinLR),
		"Warmup": strconv.Itoa(cfg.Warmup), "WeightDecay": f(cfg.WeightDecay), "Clip": f(cfg.Clip),
	}
}

// fullHashBytes bounds the data that dataSignature hashes whole.
const fullHashBytes = 1 << 30

// dataSignature identifies the training data: its length and FNV-1a hash,
// of every byte up to fullHashBytes, else of 4096 windows of 4 KiB spread
// through it.
func dataSignature(src data.Source) (string, error) {
	h := fnv.New64a()
	size := src.Size()
	if c, ok := src.(*data.Corpus); ok && size <= fullHashBytes {
		h.Write(c.Data)
		return fmt.Sprintf("%d bytes, fnv64a %016x", size, h.Sum64()), nil
	}
	const chunk = 1 << 16
	buf := make([]byte, chunk)
	tok := make([]int32, chunk)
	tgt := make([]int32, chunk)
	var last byte
	hashAt := func(off int64, n int) error {
		if err := src.Window(off, tok[:n], tgt[:n]); err != nil {
			return fmt.Errorf("reading training data: %w", err)
		}
		for i, t := range tok[:n] {
			buf[i] = byte(t)
		}
		h.Write(buf[:n])
		last = byte(tgt[n-1])
		return nil
	}
	if size <= fullHashBytes {
		// Window reads n+1 bytes: the corpus's last byte is a target.
		for off := int64(0); off < size-1; {
			n := int(min(chunk, size-1-off))
			if err := hashAt(off, n); err != nil {
				return "", err
			}
			off += int64(n)
		}
		h.Write([]byte{last})
		return fmt.Sprintf("%d bytes, fnv64a %016x", size, h.Sum64()), nil
	}
	const windows, n = 4096, 4096
	for w := int64(0); w < windows; w++ {
		if err := hashAt((size-n-1)*w/(windows-1), n); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("%d bytes, sampled fnv64a %016x", size, h.Sum64()), nil
}

// saveState writes a training checkpoint to path atomically.
func saveState(path string, params []tensor.Param[float32], opt optimizer, cfg *Config, sig string, st *runState) error {
	ts := make([]safetensors.Tensor, 0, len(params)+4)
	for _, p := range params {
		if strings.HasPrefix(p.Name, statePrefix) {
			return fmt.Errorf("parameter %q: names starting with %q are reserved for the training state", p.Name, statePrefix)
		}
		ts = append(ts, safetensors.FromFloat32(p.Name, p.Shape, p.Data))
	}
	ost := opt.export()
	for _, t := range ost.Tensors {
		if t.F64 != nil {
			ts = append(ts, safetensors.FromFloat64(optimPrefix+t.Name, t.Shape, t.F64))
		} else {
			ts = append(ts, safetensors.FromFloat32(optimPrefix+t.Name, t.Shape, t.F32))
		}
	}
	ts = append(ts,
		safetensors.FromFloat64(statePrefix+"recent_loss", []int{len(st.recent)}, st.recent),
		safetensors.FromFloat64(statePrefix+"recent_aux", []int{len(st.recentAux)}, st.recentAux))
	md := map[string]string{
		"bfc.format":             "1", // the generated Load's parameter format
		keyFormat:                stateFormat,
		"bfc.train.step":         strconv.Itoa(st.step),
		"bfc.train.result_steps": strconv.Itoa(st.resultSteps),
		"bfc.train.tokens":       strconv.FormatInt(st.tokens, 10),
		"bfc.train.skipped":      strconv.Itoa(st.skipped),
		"bfc.train.elapsed_ns":   strconv.FormatInt(int64(st.elapsed), 10),
		"bfc.train.rng":          fmt.Sprintf("%016x %016x", st.rng[0], st.rng[1]),
		"bfc.train.data":         sig,
		"bfc.train.params":       strconv.Itoa(len(params)),
		"bfc.optim.kind":         ost.Kind,
		"bfc.optim.step":         strconv.Itoa(ost.Step),
	}
	for k, v := range ost.Settings {
		md["bfc.optim."+k] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	for k, v := range cfg.settings() {
		md["bfc.train.config."+k] = v
	}
	for k, v := range cfg.Metadata {
		md[k] = v
	}
	return safetensors.Save(path, ts, md)
}

// loadState checks the training checkpoint at path against the model,
// optimizer, settings and data of this run, then restores the parameters
// and optimizer. On error it changes nothing.
func loadState(path string, params []tensor.Param[float32], opt optimizer, cfg *Config, sig string) (*runState, error) {
	f, err := safetensors.Load(path)
	if err != nil {
		return nil, err
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...))
	}
	md := f.Metadata
	v, ok := md[keyFormat]
	if !ok {
		return nil, fail("not a training checkpoint (no %s metadata): it holds parameters only, with no optimizer state or step to resume from; start a fresh run instead", keyFormat)
	}
	if v != stateFormat {
		return nil, fail("training checkpoint format %q; this bfc reads format %s", v, stateFormat)
	}

	// The same model: every parameter present with its shape, nothing else.
	data := make([][]float32, len(params))
	for i, p := range params {
		t, ok := f.Get(p.Name)
		if !ok {
			return nil, fail("no tensor %q: a checkpoint of a different model (it has %s parameter tensors, this model %d)", p.Name, md["bfc.train.params"], len(params))
		}
		if !slices.Equal(t.Shape, p.Shape) {
			return nil, fail("tensor %q has shape %v, the model's parameter has %v: a checkpoint of a different model", p.Name, t.Shape, p.Shape)
		}
		if data[i], err = t.Float32(); err != nil {
			return nil, fail("%v", err)
		}
	}
	has := make(map[string]bool, len(params))
	for _, p := range params {
		has[p.Name] = true
	}
	for _, t := range f.Tensors {
		if !has[t.Name] && !strings.HasPrefix(t.Name, statePrefix) {
			return nil, fail("tensor %q is not a parameter of this model: a checkpoint of a different model", t.Name)
		}
	}

	// The same settings and data.
	want := cfg.settings()
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		got, ok := md["bfc.train.config."+k]
		if !ok {
			return nil, fail("metadata bfc.train.config.%s is missing", k)
		}
		if got != want[k] {
			return nil, fail("written with %s %s, but this run has %s %s; resume with the settings of the run that wrote it", k, got, k, want[k])
		}
	}
	if got := md["bfc.train.data"]; got != sig {
		return nil, fail("written for training data of %s, but this run's has %s; resume on the same files", orMissing(got), sig)
	}

	// Scalars.
	st := &runState{}
	ints := []struct {
		key string
		dst *int
	}{{"bfc.train.step", &st.step}, {"bfc.train.result_steps", &st.resultSteps}, {"bfc.train.skipped", &st.skipped}}
	for _, x := range ints {
		n, err := strconv.Atoi(md[x.key])
		if err != nil || n < 0 {
			return nil, fail("metadata %s = %q: want a step count", x.key, md[x.key])
		}
		*x.dst = n
	}
	if st.tokens, err = strconv.ParseInt(md["bfc.train.tokens"], 10, 64); err != nil || st.tokens < 0 {
		return nil, fail("metadata bfc.train.tokens = %q: want a token count", md["bfc.train.tokens"])
	}
	ns, err := strconv.ParseInt(md["bfc.train.elapsed_ns"], 10, 64)
	if err != nil || ns < 0 {
		return nil, fail("metadata bfc.train.elapsed_ns = %q: want nanoseconds", md["bfc.train.elapsed_ns"])
	}
	st.elapsed = time.Duration(ns)
	if _, err := fmt.Sscanf(md["bfc.train.rng"], "%016x %016x", &st.rng[0], &st.rng[1]); err != nil {
		return nil, fail("metadata bfc.train.rng = %q: want two 16-digit hex words", md["bfc.train.rng"])
	}
	for _, x := range []struct {
		name string
		dst  *[]float64
	}{{"recent_loss", &st.recent}, {"recent_aux", &st.recentAux}} {
		t, ok := f.Get(statePrefix + x.name)
		if !ok {
			return nil, fail("no tensor %q", statePrefix+x.name)
		}
		if *x.dst, err = t.Float64(); err != nil {
			return nil, fail("%v", err)
		}
	}
	if len(st.recent) != len(st.recentAux) {
		return nil, fail("tensors %q and %q differ in length", statePrefix+"recent_loss", statePrefix+"recent_aux")
	}

	// The optimizer.
	ost := optim.State{Kind: md["bfc.optim.kind"], Settings: map[string]float64{}}
	if ost.Step, err = strconv.Atoi(md["bfc.optim.step"]); err != nil {
		return nil, fail("metadata bfc.optim.step = %q: want a step count", md["bfc.optim.step"])
	}
	for k, v := range md {
		if name, ok := strings.CutPrefix(k, "bfc.optim."); ok && name != "kind" && name != "step" {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, fail("metadata %s = %q: want a number", k, v)
			}
			ost.Settings[name] = x
		}
	}
	for _, t := range f.Tensors {
		name, ok := strings.CutPrefix(t.Name, optimPrefix)
		if !ok {
			continue
		}
		ot := optim.StateTensor{Name: name, Shape: t.Shape}
		switch t.DType {
		case "F64":
			ot.F64, err = t.Float64()
		default:
			ot.F32, err = t.Float32()
		}
		if err != nil {
			return nil, fail("%v", err)
		}
		ost.Tensors = append(ost.Tensors, ot)
	}
	if err := opt.restore(params, ost); err != nil {
		return nil, fail("%v", err)
	}
	for i, p := range params {
		copy(p.Data, data[i])
	}
	return st, nil
}

func orMissing(s string) string {
	if s == "" {
		return "(not recorded)"
	}
	return s
}

// LoadParams replaces m's parameters with those of a training checkpoint
// written by Run, or of a parameter file written by the model's Save. It
// checks every parameter's presence and shape and changes nothing on
// error. (The generated Load refuses a training checkpoint: it holds
// tensors that are not parameters.)
func LoadParams(m Model, path string) error {
	f, err := safetensors.Load(path)
	if err != nil {
		return err
	}
	_, training := f.Metadata[keyFormat]
	params := m.Params()
	data := make([][]float32, len(params))
	has := make(map[string]bool, len(params))
	for i, p := range params {
		has[p.Name] = true
		t, ok := f.Get(p.Name)
		if !ok {
			return fmt.Errorf("%s: no tensor %q: a checkpoint of a different model", path, p.Name)
		}
		if !slices.Equal(t.Shape, p.Shape) {
			return fmt.Errorf("%s: tensor %q has shape %v, the model's parameter has %v", path, p.Name, t.Shape, p.Shape)
		}
		if data[i], err = t.Float32(); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	for _, t := range f.Tensors {
		if !has[t.Name] && !(training && strings.HasPrefix(t.Name, statePrefix)) {
			return fmt.Errorf("%s: tensor %q is not a parameter of this model", path, t.Name)
		}
	}
	for i, p := range params {
		copy(p.Data, data[i])
	}
	return nil
}
