package autodiff

import (
	"fmt"

	"github.com/bfcdev/bfc/compiler/ir"
)

// Rule emits the backward instructions of one forward instruction: given
// the gradient of its first result (g.Out(0)), it accumulates into the
// gradients of the arguments that need one (g.Of).
type Rule func(g *Grads, in *ir.Instr)

// Grads is the state of one Differentiate call, as rules see it.
type Grads struct {
	p    *ir.Program
	need []bool      // by value ID: the value needs a gradient
	grad []*ir.Value // by value ID: its gradient, once created
	in   *ir.Instr   // the instruction whose rule is running
	err  error       // the first error a rule reported
}

// Differentiate fills p.Backward, p.DLoss and every parameter's Grad. The
// backward list computes the vector-Jacobian product of the forward list
// seeded with DLoss (1 for a scalar loss): each forward instruction, in
// reverse order, contributes the instructions its Rule emits. Every
// backward instruction accumulates; the caller zeroes every gradient
// (values with GradOf set: KindGrad and temp gradients) and sets DLoss
// before running it.
//
// Only values that depend on a parameter (or on a float input) and reach
// the loss get gradients; tokens, targets and side results such as a
// norm's rstd never do. Every parameter gets a Grad, zero when it does not
// reach the loss. Differentiate fails if an instruction on the path to the
// loss has an op without a rule, if a gradient would flow into a result
// its rule does not handle (beyond the op's ir.Op.GradOuts), or if a rule
// reports that it cannot differentiate the instruction.
func Differentiate(p *ir.Program) error {
	if p.Loss == nil {
		return fmt.Errorf("autodiff: program %s has no loss", p.Name)
	}
	if p.DLoss != nil || len(p.Backward) > 0 {
		return fmt.Errorf("autodiff: program %s is already differentiated", p.Name)
	}
	g := &Grads{p: p}
	g.need = needsGrad(p)
	g.grad = make([]*ir.Value, len(p.Values))

	// Parameter gradients first, in parameter order, so that their IDs are
	// grouped and stable.
	for _, v := range p.Params {
		gv := p.NewValue("grad/"+v.Name, ir.KindGrad, ir.Float, v.Rows, v.Cols, v.Pos)
		gv.GradOf = v
		v.Grad = gv
		g.setGrad(v, gv)
	}
	dl := g.newGrad(p.Loss)
	p.DLoss = dl
	g.setGrad(p.Loss, dl)

	for i := len(p.Forward) - 1; i >= 0; i-- {
		in := p.Forward[i]
		if !g.flows(in) {
			continue
		}
		n := in.Op.GradOuts()
		for j, o := range in.Outs[n:] {
			if g.grad[o.ID] != nil {
				return fmt.Errorf("autodiff: %s: gradient flows into result %d of %v, which its rule ignores", where(in), j+n, in.Op)
			}
		}
		rule := Rules[in.Op]
		if rule == nil {
			return fmt.Errorf("autodiff: %s: no gradient rule for %v", where(in), in.Op)
		}
		g.in = in
		rule(g, in)
		if g.err != nil {
			return fmt.Errorf("autodiff: %s: %v: %w", where(in), in.Op, g.err)
		}
	}
	g.in = nil
	return nil
}

func where(in *ir.Instr) string {
	if in.Pos.IsValid() {
		return fmt.Sprintf("%s (%s)", in.Layer, in.Pos)
	}
	return in.Layer
}

// flows reports whether in's rule must run: a gradient reached one of its
// results and one of its arguments needs a gradient.
func (g *Grads) flows(in *ir.Instr) bool {
	out := false
	for _, o := range in.Outs {
		out = out || g.grad[o.ID] != nil
	}
	if !out {
		return false
	}
	for _, a := range in.Args {
		if g.need[a.ID] {
			return true
		}
	}
	return false
}

// needsGrad marks the float values that depend on a parameter or a float
// input and from which the loss is reachable.
func needsGrad(p *ir.Program) []bool {
	n := len(p.Values)
	dep := make([]bool, n)
	for _, v := range p.Values {
		dep[v.ID] = v.DType == ir.Float && (v.Kind == ir.KindParam || v.Kind == ir.KindInput)
	}
	for _, in := range p.Forward {
		d := false
		for _, a := range in.Args {
			d = d || dep[a.ID]
		}
		for _, o := range in.Outs {
			dep[o.ID] = d && o.DType == ir.Float
		}
	}
	reach := make([]bool, n)
	reach[p.Loss.ID] = true
	for i := len(p.Forward) - 1; i >= 0; i-- {
		in := p.Forward[i]
		r := false
		for _, o := range in.Outs {
			r = r || reach[o.ID]
		}
		for _, a := range in.Args {
			reach[a.ID] = reach[a.ID] || r
		}
	}
	need := make([]bool, n)
	for i := range need {
		need[i] = dep[i] && reach[i]
	}
	return need
}

func (g *Grads) setGrad(v, gv *ir.Value) {
	for len(g.grad) <= v.ID {
		g.grad = append(g.grad, nil)
	}
	g.grad[v.ID] = gv
}

// newGrad creates a temp gradient of v (not registered as v's gradient).
func (g *Grads) newGrad(v *ir.Value) *ir.Value {
	gv := g.p.NewValue("grad/"+v.Name, ir.KindTemp, ir.Float, v.Rows, v.Cols, v.Pos)
	gv.GradOf = v
	return gv
}

// Program returns the program being differentiated.
func (g *Grads) Program() *ir.Program { return g.p }

// Out returns the gradient of the running instruction's i-th result, or
// nil when no gradient reached it.
func (g *Grads) Out(i int) *ir.Value { return g.grad[g.in.Outs[i].ID] }

// Needs reports whether v needs a gradient.
func (g *Grads) Needs(v *ir.Value) bool { return v.ID < len(g.need) && g.need[v.ID] }

// Of returns v's gradient, creating it (a temp) on first use, or nil when v
// needs no gradient.
func (g *Grads) Of(v *ir.Value) *ir.Value {
	if !g.Needs(v) {
		return nil
	}
	if gv := g.grad[v.ID]; gv != nil {
		return gv
	}
	gv := g.newGrad(v)
	v.Grad = gv
	g.setGrad(v, gv)
	return gv
}

// Sink returns v's gradient like Of, or, when v needs none, a fresh
// scratch gradient that nothing reads: for kernels that write several
// gradients at once.
func (g *Grads) Sink(v *ir.Value) *ir.Value {
	if gv := g.Of(v); gv != nil {
		return gv
	}
	return g.newGrad(v)
}

// Emit appends a backward instruction, stamped with the running forward
// instruction's layer and position.
func (g *Grads) Emit(op ir.Op, a ir.Attrs, args []*ir.Value, outs ...*ir.Value) {
	g.p.Backward = append(g.p.Backward, &ir.Instr{Op: op, Args: args, Outs: outs, Attrs: a, Pos: g.in.Pos, Layer: g.in.Layer})
}

// Errorf reports that the running rule cannot differentiate its
// instruction; Differentiate returns the error.
func (g *Grads) Errorf(format string, args ...any) {
	if g.err == nil {
		g.err = fmt.Errorf(format, args...)
	}
}
