package trainstep

import (
	"runtime"
	"testing"

	"github.com/bfcdev/bfc/bench/referencemodel"
	"github.com/bfcdev/bfc/codegen/internal/e2e/e2etest"
	"github.com/bfcdev/bfc/examples/charlm/dense"
	"github.com/bfcdev/bfc/runtime/optim"
	"github.com/bfcdev/bfc/runtime/tensor"
)

// model is what a generated float32 package offers a training loop.
type model interface {
	Forward(tokens, targets []int32, batch, seq int) (float32, error)
	Backward()
	Params() []tensor.Param[float32]
}

type setup struct {
	name              string
	fresh             func() model
	vocab, batch, seq int
	testBatch         int // a smaller batch for the test, still run in parallel
}

var setups = []setup{
	{"moe", func() model { return referencemodel.New(referencemodel.Options{Seed: 1}) },
		referencemodel.Vocab, referencemodel.MaxBatch, referencemodel.MaxSeq, 2},
	{"dense", func() model { return dense.New(dense.Options{Seed: 1}) },
		dense.Vocab, dense.MaxBatch, dense.MaxSeq, dense.MaxBatch},
}

// stepFunc returns one training step of m with AdamW or Adafactor.
func stepFunc(tb testing.TB, m model, opt string, tokens, targets []int32, batch, seq int) func() {
	adam := optim.NewAdamW(optim.AdamWConfig{})
	ada := optim.NewAdafactor(optim.AdafactorConfig{Beta1: 0.9})
	return func() {
		if _, err := m.Forward(tokens, targets, batch, seq); err != nil {
			tb.Fatal(err)
		}
		m.Backward()
		if opt == "adamw" {
			optim.StepAdamW(adam, m.Params(), 1e-4)
		} else {
			optim.StepAdafactor(ada, m.Params(), 1e-4)
		}
	}
}

func TestTrainStepAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, s := range setups {
		m := s.fresh() // shared by both optimizers: set-up is costly
		batch, seq := s.testBatch, s.seq
		tokens, targets := e2etest.Batch(3, s.vocab, batch, seq, true)
		for _, opt := range []string{"adamw", "adafactor"} {
			t.Run(s.name+"/"+opt, func(t *testing.T) {
				step := stepFunc(t, m, opt, tokens, targets, batch, seq)
				// The first step allocates optimizer state; the next ones
				// may fill pools to the concurrency the scheduler reaches.
				for range 3 {
					step()
				}
				if n := testing.AllocsPerRun(2, step); n != 0 {
					t.Errorf("%v allocations per training step, want 0", n)
				}
			})
		}
	}
}

// BenchmarkTrainStep times Forward+Backward+AdamW at the models' full
// size. The gc variants collect garbage before every step, as a training
// loop that allocates elsewhere would, and show what the step then
// allocates again (the timings include the collections).
func BenchmarkTrainStep(b *testing.B) {
	for _, s := range setups {
		for _, gc := range []bool{false, true} {
			name := s.name
			if gc {
				name += "/gc"
			}
			b.Run(name, func(b *testing.B) {
				m := s.fresh()
				tokens, targets := e2etest.Batch(3, s.vocab, s.batch, s.seq, true)
				step := stepFunc(b, m, "adamw", tokens, targets, s.batch, s.seq)
				// Collect the set-up's garbage before timing, so that no
				// collection runs during the loop unless a step allocates,
				// then refill what the collection emptied (the runtime's
				// parking records; sync.Pools of the attention and
				// streamed-GEMM kernels) with a few steps.
				step()
				runtime.GC()
				for range 4 {
					step()
				}
				b.ReportAllocs()
				for b.Loop() {
					if gc {
						runtime.GC()
					}
					step()
				}
			})
		}
	}
}
