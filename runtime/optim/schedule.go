package optim

import "math"

// A Schedule gives the learning rate for a (1-based) step.
type Schedule interface {
	LR(step int) float64
}

// Constant is a fixed learning rate.
type Constant float64

// LR returns c.
func (c Constant) LR(int) float64 { return float64(c) }

// WarmupInvSqrt rises linearly from 0 to Peak over Warmup steps, then decays
// as Peak*sqrt(Warmup/step). With Warmup <= 0 it is Peak throughout.
type WarmupInvSqrt struct {
	Peak   float64
	Warmup int
}

// LR implements Schedule.
func (s WarmupInvSqrt) LR(step int) float64 {
	if s.Warmup <= 0 {
		return s.Peak
	}
	if step <= s.Warmup {
		return s.Peak * float64(max(step, 0)) / float64(s.Warmup)
	}
	return s.Peak * math.Sqrt(float64(s.Warmup)/float64(step))
}

// WarmupCosine rises linearly from 0 to Peak over Warmup steps, then
// follows a half cosine from Peak down to Min at step Total, and stays at
// Min after.
type WarmupCosine struct {
	Peak, Min     float64
	Warmup, Total int
}

// LR implements Schedule.
func (s WarmupCosine) LR(step int) float64 {
	if s.Warmup > 0 && step <= s.Warmup {
		return s.Peak * float64(max(step, 0)) / float64(s.Warmup)
	}
	if step >= s.Total {
		return s.Min
	}
	frac := float64(step-s.Warmup) / float64(s.Total-s.Warmup)
	return s.Min + (s.Peak-s.Min)*0.5*(1+math.Cos(math.Pi*frac))
}
