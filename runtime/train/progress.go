package train

import (
	"fmt"
	"github.com/bfcdev/bfc/runtime/moe"
	"io"
	"math"
	"strings"
	"time"
)

// progress prints the state of a run: on a terminal one line that updates in
// place, elsewhere a line every few seconds.
type progress struct {
	w        io.Writer
	tty      bool
	steps    int
	budget   time.Duration
	last     time.Time
	lastLen  int
	heldOut  float64
	interval time.Duration
	routing  []moe.LayerStats // of the last step, for MoE models
}

func newProgress(w io.Writer, steps int, budget time.Duration) *progress {
	p := &progress{w: w, steps: steps, budget: budget, heldOut: math.NaN()}
	if w == nil {
		return p
	}
	p.tty = isTerminal(w)
	p.interval = 5 * time.Second
	if p.tty {
		p.interval = 200 * time.Millisecond
	}
	return p
}

func (p *progress) line(step int, r *Result, lr float64) string {
	tps := 0.0
	if r.Elapsed > 0 {
		tps = float64(r.Tokens) / r.Elapsed.Seconds()
	}
	left := time.Duration(0)
	if step > 0 {
		perStep := r.Elapsed / time.Duration(step)
		left = perStep * time.Duration(p.steps-step)
		if p.budget > 0 && p.budget-r.Elapsed < left {
			left = p.budget - r.Elapsed
		}
	}
	frac := float64(step) / float64(p.steps)
	if p.budget > 0 {
		frac = math.Max(frac, r.Elapsed.Seconds()/p.budget.Seconds())
	}
	bar := bar(frac, 20)
	steps := fmt.Sprintf("step %d/%d", step, p.steps)
	if p.budget > 0 {
		steps = fmt.Sprintf("step %d", step) // the budget, not the step cap, ends the run
	}
	s := fmt.Sprintf("%s %s  loss %.3f (%.2f bpb)", bar, steps, r.TrainLoss, r.TrainLoss/math.Ln2)
	if r.AuxLoss != 0 {
		s += fmt.Sprintf("  aux %.4f", r.AuxLoss)
	}
	if !math.IsNaN(p.heldOut) {
		s += fmt.Sprintf("  held-out %.3f bpb", p.heldOut)
	}
	if len(p.routing) > 0 {
		s += "  " + routingSummary(p.routing)
	}
	s += fmt.Sprintf("  lr %.2e  %s tok/s  %s elapsed  %s left", lr, humanRate(tps), clock(r.Elapsed), clock(left))
	return s
}

func (p *progress) update(step int, r *Result, lr float64) {
	if p.w == nil {
		return
	}
	now := time.Now()
	if step != 1 && step != p.steps && now.Sub(p.last) < p.interval {
		return
	}
	p.last = now
	s := p.line(step, r, lr)
	if p.tty {
		pad := ""
		if n := p.lastLen - len(s); n > 0 {
			pad = strings.Repeat(" ", n)
		}
		fmt.Fprintf(p.w, "\r%s%s", s, pad)
		p.lastLen = len(s)
	} else {
		fmt.Fprintln(p.w, s)
	}
}

func (p *progress) eval(r *Result) {
	p.heldOut = r.HeldOutBPB
	if p.w == nil {
		return
	}
	msg := fmt.Sprintf("step %d: held-out %.3f bits per byte", r.Steps, r.HeldOutBPB)
	if len(p.routing) > 0 {
		msg += "; routing of the last step:\n" + strings.TrimRight(indent(moe.FormatStats(p.routing)), "\n")
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\r%s\n", strings.Repeat(" ", p.lastLen), msg)
		p.lastLen = 0
	} else {
		fmt.Fprintln(p.w, msg)
	}
}

// note prints a message on a line of its own.
func (p *progress) note(msg string) {
	if p.w == nil {
		return
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\r%s\n", strings.Repeat(" ", p.lastLen), msg)
		p.lastLen = 0
	} else {
		fmt.Fprintln(p.w, msg)
	}
}

func (p *progress) done() {
	if p.w != nil && p.tty && p.lastLen > 0 {
		fmt.Fprintln(p.w)
	}
}

func bar(frac float64, width int) string {
	frac = math.Max(0, math.Min(1, frac))
	n := int(frac*float64(width) + 0.5)
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}

func clock(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int(d.Seconds() + 0.5)
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

func humanRate(x float64) string {
	switch {
	case x >= 1e6:
		return fmt.Sprintf("%.2fM", x/1e6)
	case x >= 1e3:
		return fmt.Sprintf("%.1fk", x/1e3)
	}
	return fmt.Sprintf("%.0f", x)
}

// routingSummary condenses the routing of every MoE layer into a few
// numbers: tokens that no expert took, tokens with 2+ experts, and the
// top-k drop rate.
func routingSummary(stats []moe.LayerStats) string {
	var tokens, none, multi, dropped, choices int
	for _, l := range stats {
		tokens += l.Tokens
		none += l.PerToken[0]
		multi += l.PerToken[2] + l.PerToken[3]
		dropped += l.Dropped
		choices += l.Choices
	}
	if tokens == 0 {
		return ""
	}
	s := fmt.Sprintf("moe: 0 experts %.0f%%, 2+ %.0f%%", 100*float64(none)/float64(tokens), 100*float64(multi)/float64(tokens))
	if choices > 0 {
		s += fmt.Sprintf(", dropped %.1f%%", 100*float64(dropped)/float64(choices))
	}
	return s
}

func indent(s string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		if line != "" {
			b.WriteString("  " + line)
		}
	}
	return b.String()
}
