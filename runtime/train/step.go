package train

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/bfcdev/bfc/runtime/data"
	"github.com/bfcdev/bfc/runtime/optim"
	"github.com/bfcdev/bfc/runtime/tensor"
)

// stepper runs training steps: the one code path that a step of Run and a
// step of Measure share.
type stepper struct {
	m               Model
	cfg             *Config
	data            data.Source
	rng             *tensor.RNG // the batch sampler
	params          []tensor.Param[float32]
	opt             optimizer
	sched           optim.Schedule
	tokens, targets []int32
}

func newStepper(m Model, cfg *Config, trainData data.Source) *stepper {
	n := cfg.Batch * cfg.Seq
	return &stepper{
		m: m, cfg: cfg, data: trainData, rng: tensor.NewRNG(cfg.Seed), params: m.Params(),
		opt: cfg.newOptimizer(), sched: cfg.schedule(), tokens: make([]int32, n), targets: make([]int32, n),
	}
}

// step runs training step s: a random batch, Forward, Backward, the
// gradient-norm clip, the learning rate of step s and the optimizer update.
// start is when the training time began (the cosine over a time budget
// reads the time since). A NaN or ±Inf loss or gradient returns what was
// not finite as skipped, the parameters unchanged, under NonFinite "skip",
// and an error naming the step and the cause otherwise.
func (st *stepper) step(s int, start time.Time) (loss float32, lr float64, skipped string, err error) {
	cfg := st.cfg
	if err := data.RandomBatch(st.data, st.rng, cfg.Batch, cfg.Seq, st.tokens, st.targets); err != nil {
		return 0, 0, "", fmt.Errorf("step %d: training data: %w", s, err)
	}
	loss, err = st.m.Forward(st.tokens, st.targets, cfg.Batch, cfg.Seq)
	if err != nil {
		return 0, 0, "", fmt.Errorf("step %d: %w", s, err)
	}
	bad := ""
	if math.IsNaN(float64(loss)) || math.IsInf(float64(loss), 0) {
		bad = fmt.Sprintf("the loss is %v", loss)
	} else {
		st.m.Backward()
		if name := firstNonFinite(st.params, true); name != "" {
			bad = "the gradient of " + name + " is not finite (the first such parameter)"
		}
	}
	if bad != "" {
		if cfg.NonFinite != "skip" {
			return loss, 0, "", fmt.Errorf("step %d: %s; lower -lr, raise -warmup or clip gradients", s, bad)
		}
		return loss, 0, bad, nil
	}
	if cfg.Clip > 0 {
		optim.ClipGradNorm(st.params, cfg.Clip)
	}
	lr = st.sched.LR(s)
	if cfg.Duration > 0 && cfg.Schedule != "invsqrt" {
		// A time budget stretches the cosine over the budget: estimate
		// the total steps from the pace so far.
		frac := time.Since(start).Seconds() / cfg.Duration.Seconds()
		total := cfg.Steps
		if frac > 0 && float64(s)/frac < float64(total) {
			total = max(s, int(float64(s)/frac))
		}
		lr = optim.WarmupCosine{Peak: cfg.LR, Min: cfg.MinLR, Warmup: cfg.Warmup, Total: total}.LR(s)
	}
	st.opt.step(st.params, lr)
	if name := firstNonFinite(st.params, false); name != "" {
		return loss, lr, "", fmt.Errorf("step %d: the update made %s non-finite; lower -lr", s, name)
	}
	return loss, lr, "", nil
}

// Measurement is what Measure timed.
type Measurement struct {
	StepTimes []time.Duration // each timed step, in order
	Median    time.Duration   // of StepTimes (0: none)
	Skipped   int             // steps, warm-up or timed, skipped for a non-finite loss or gradient
	Stopped   bool            // Config.Stop closed before the last timed step
}

// Measure times training steps instead of training: warmup untimed steps,
// then steps timed one by one, each exactly a step of Run (a random batch
// of trainData, Forward, Backward, the clip, the learning rate of its step
// number and the optimizer update; see stepper.step). It reads the
// Config's model and optimizer settings (Batch, Seq, Steps, Duration, LR,
// MinLR, Warmup, Schedule, Optimizer, WeightDecay, Clip, NonFinite, Seed)
// and Stop, and nothing else: no evaluation, checkpoint, log or progress.
// The steps use GOMAXPROCS threads. On an error the Measurement so far is
// returned with it.
func Measure(m Model, cfg Config, trainData data.Source, warmup, steps int) (*Measurement, error) {
	switch {
	case warmup < 0:
		return nil, fmt.Errorf("warm-up steps %d must not be negative", warmup)
	case steps < 1:
		return nil, fmt.Errorf("timed steps %d must be at least 1", steps)
	}
	if err := cfg.validateTraining(trainData); err != nil {
		return nil, err
	}
	st := newStepper(m, &cfg, trainData)
	ms := &Measurement{StepTimes: make([]time.Duration, 0, steps)}
	start := time.Now()
	for s := 1; s <= warmup+steps; s++ {
		if stopped(cfg.Stop) {
			ms.Stopped = true
			break
		}
		t0 := time.Now()
		_, _, skipped, err := st.step(s, start)
		d := time.Since(t0)
		if err != nil {
			ms.Median = median(ms.StepTimes)
			return ms, err
		}
		if skipped != "" {
			ms.Skipped++
		}
		if s > warmup {
			ms.StepTimes = append(ms.StepTimes, d)
		}
	}
	ms.Median = median(ms.StepTimes)
	return ms, nil
}

// median returns the median of d (the mean of the middle two for an even
// count; 0 for none).
func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
