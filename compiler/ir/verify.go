package ir

import (
	"errors"
	"fmt"
)

// maxVerifyErrors bounds the errors Verify reports.
const maxVerifyErrors = 10

// Verify checks that p is well formed and returns every problem found (at
// most 10, joined), or nil. It checks
//
//   - values: non-nil, Values[i].ID == i, valid kinds and types, positive
//     sizes; parameters static, listed once in Params, logical Shape
//     matching rows×cols, a known Init; gradients (KindGrad) belong to a
//     parameter and have its type;
//   - inputs: Tokens and Targets are [T,1] i32;
//   - every instruction: a known op with the right number of arguments and
//     results, values that belong to p, and argument and result types that
//     fit the op (the shape checks per op in shape.go: matmul inner
//     dimensions, attention's qkv width 3·heads·head_dim, and so on);
//   - forward: only forward ops, no Acc, every argument defined before use
//     (parameters and inputs are defined on entry), every result a temp
//     defined exactly once; Logits defined by the first NInfer instructions
//     and Loss by the forward list;
//   - backward: only backward ops and accumulating matmuls; results are
//     gradients (KindGrad, or temps with GradOf set), never forward values
//     or DLoss; a gradient read as an argument is DLoss or was written
//     earlier in the backward list;
//   - moe: the routing attributes (a known rule, group and activation,
//     positive sizes and capacity, k within the experts for top_k, none
//     for expert choice); the i-th forward moe uses workspace i; every
//     moe_grad shares the attributes of the forward moe of its workspace
//     and reads that instruction's x, router and experts;
//   - CE, when set: a [1,1] value defined by the forward list.
//
// A program without Logits is a fragment (gradient checks build them): its
// Loss may have any type, and DLoss has Loss's type. In a model, Loss and
// DLoss are [1,1].
func Verify(p *Program) error {
	v := verifier{p: p}
	v.run()
	if len(v.errs) == 0 {
		return nil
	}
	return errors.Join(v.errs...)
}

type verifier struct {
	p    *Program
	errs []error
}

func (v *verifier) errorf(format string, args ...any) {
	if len(v.errs) == maxVerifyErrors {
		v.errs = append(v.errs, errors.New("too many errors"))
	}
	if len(v.errs) > maxVerifyErrors {
		return
	}
	v.errs = append(v.errs, fmt.Errorf(format, args...))
}

// known reports whether x is one of p's values.
func (v *verifier) known(x *Value) bool {
	return x != nil && x.ID >= 0 && x.ID < len(v.p.Values) && v.p.Values[x.ID] == x
}

func ref(x *Value) string {
	if x == nil {
		return "<nil>"
	}
	if x.Kind == KindParam || x.Kind == KindGrad {
		return "@" + x.Name
	}
	return fmt.Sprintf("%%%d", x.ID)
}

func (v *verifier) run() {
	p := v.p
	if !v.values() {
		return // instructions may point at broken values; stop the cascade
	}
	v.inputs()

	// defined holds the values readable at the current point of the forward
	// list; written holds gradients written so far in the backward list.
	defined := make([]bool, len(p.Values))
	for _, x := range p.Values {
		if x.Kind == KindInput || x.Kind == KindParam {
			defined[x.ID] = true
		}
	}
	if p.NInfer < 0 || p.NInfer > len(p.Forward) {
		v.errorf("NInfer = %d outside the %d forward instructions", p.NInfer, len(p.Forward))
	}
	for i, in := range p.Forward {
		if i == p.NInfer && p.Logits != nil && v.known(p.Logits) && !defined[p.Logits.ID] {
			v.errorf("logits %s not defined by the first %d (NInfer) forward instructions", ref(p.Logits), p.NInfer)
		}
		where := fmt.Sprintf("forward[%d] %v", i, opOf(in))
		if !v.instr(where, in) {
			continue
		}
		if in.Op.IsBackward() {
			v.errorf("%s: backward op in the forward list", where)
		}
		if in.Attrs.Acc {
			v.errorf("%s: acc in the forward list", where)
		}
		for _, a := range in.Args {
			if !defined[a.ID] {
				v.errorf("%s: %s used before it is defined", where, ref(a))
			}
		}
		for _, o := range in.Outs {
			switch {
			case o.Kind != KindTemp:
				v.errorf("%s: result %s is a %v, want a temp", where, ref(o), o.Kind)
			case o.GradOf != nil:
				v.errorf("%s: result %s is a gradient", where, ref(o))
			case defined[o.ID]:
				v.errorf("%s: %s defined twice", where, ref(o))
			}
			defined[o.ID] = true
		}
	}
	if p.NInfer == len(p.Forward) && p.Logits != nil && v.known(p.Logits) && !defined[p.Logits.ID] {
		v.errorf("logits %s not defined by the forward instructions", ref(p.Logits))
	}
	v.outputs(defined)
	v.backward(defined)
	v.moe()
}

// moe checks the workspaces of the moe layers: the i-th forward OpMoE owns
// workspace i, and each OpMoEGrad belongs to one of them.
func (v *verifier) moe() {
	p := v.p
	byWS := map[int]*Instr{}
	n := 0
	for i, in := range p.Forward {
		if in == nil || in.Op != OpMoE || in.Attrs.MoE == nil {
			continue
		}
		if ws := in.Attrs.MoE.Workspace; ws != n {
			v.errorf("forward[%d] moe: workspace %d, want %d (the moe layers in order)", i, ws, n)
		}
		byWS[in.Attrs.MoE.Workspace] = in
		n++
	}
	for i, in := range p.Backward {
		if in == nil || in.Op != OpMoEGrad || in.Attrs.MoE == nil || len(in.Args) != opSigs[OpMoEGrad].args {
			continue
		}
		fwd := byWS[in.Attrs.MoE.Workspace]
		switch {
		case fwd == nil:
			v.errorf("backward[%d] moe_grad: workspace %d belongs to no forward moe", i, in.Attrs.MoE.Workspace)
		case fwd.Attrs.MoE != in.Attrs.MoE:
			v.errorf("backward[%d] moe_grad: attributes differ from those of the forward moe of workspace %d", i, in.Attrs.MoE.Workspace)
		default:
			for j, a := range fwd.Args {
				if in.Args[2+j] != a {
					v.errorf("backward[%d] moe_grad: argument %d is %s, the forward moe of workspace %d read %s", i, 2+j, ref(in.Args[2+j]), in.Attrs.MoE.Workspace, ref(a))
				}
			}
		}
	}
}

func opOf(in *Instr) Op {
	if in == nil {
		return OpInvalid
	}
	return in.Op
}

// values checks the value table and the parameter list; false means the
// table is too broken to check instructions against.
func (v *verifier) values() bool {
	p := v.p
	ok := true
	for i, x := range p.Values {
		if x == nil {
			v.errorf("value %d is nil", i)
			ok = false
			continue
		}
		if x.ID != i {
			v.errorf("value %d has ID %d", i, x.ID)
			ok = false
			continue
		}
		if x.Kind < KindInput || x.Kind > KindTemp {
			v.errorf("%s: invalid kind %d", ref(x), x.Kind)
		}
		if x.DType != Float && x.DType != Int32 {
			v.errorf("%s: invalid dtype %d", ref(x), x.DType)
		}
		if x.Cols <= 0 || (!x.Rows.Tokens && x.Rows.N <= 0) {
			v.errorf("%s: empty type %v", ref(x), x.Type())
		}
		if x.DType == Int32 && x.Kind != KindInput {
			v.errorf("%s: a %v of type %v; only inputs hold i32", ref(x), x.Kind, x.Type())
		}
		switch x.Kind {
		case KindGrad:
			g := x.GradOf
			switch {
			case g == nil || !v.known(g) || g.Kind != KindParam:
				v.errorf("%s: gradient of no parameter", ref(x))
			case g.Grad != x:
				v.errorf("%s: gradient of %s, whose Grad is %s", ref(x), ref(g), ref(g.Grad))
			case x.Type() != g.Type():
				v.errorf("%s is %v, its parameter %s is %v", ref(x), x.Type(), ref(g), g.Type())
			}
		case KindTemp:
			if g := x.GradOf; g != nil {
				if !v.known(g) {
					v.errorf("%s: gradient of an unknown value", ref(x))
				} else if x.Type() != g.Type() {
					v.errorf("%s is %v, the value it is the gradient of (%s) is %v", ref(x), x.Type(), ref(g), g.Type())
				}
			}
		}
	}
	if !ok {
		return false
	}
	listed := make(map[*Value]bool)
	for i, x := range p.Params {
		switch {
		case !v.known(x):
			v.errorf("Params[%d] is not one of the program's values", i)
			continue
		case x.Kind != KindParam:
			v.errorf("Params[%d] %s is a %v", i, ref(x), x.Kind)
		case listed[x]:
			v.errorf("Params[%d] %s listed twice", i, ref(x))
		}
		listed[x] = true
		if x.Rows.Tokens {
			v.errorf("param %s has T rows", ref(x))
		}
		n := 1
		for _, d := range x.Shape {
			n *= d
		}
		if len(x.Shape) == 0 || n != x.Rows.N*x.Cols {
			v.errorf("param %s: shape %v does not hold %v", ref(x), x.Shape, x.Type())
		}
		switch x.Init.Kind {
		case "ones", "zeros":
		case "normal":
			if !(x.Init.Std > 0) {
				v.errorf("param %s: normal init with std %v", ref(x), x.Init.Std)
			}
		default:
			v.errorf("param %s: unknown init %q", ref(x), x.Init.Kind)
		}
		if x.Grad != nil && (!v.known(x.Grad) || x.Grad.Kind != KindGrad) {
			v.errorf("param %s: Grad %s is not a gradient value", ref(x), ref(x.Grad))
		}
	}
	for _, x := range p.Values {
		if x.Kind == KindParam && !listed[x] {
			v.errorf("param %s not listed in Params", ref(x))
		}
	}
	return true
}

func (v *verifier) inputs() {
	for _, in := range []struct {
		name string
		x    *Value
	}{{"tokens", v.p.Tokens}, {"targets", v.p.Targets}} {
		x := in.x
		if x == nil {
			continue
		}
		if !v.known(x) {
			v.errorf("%s is not one of the program's values", in.name)
			continue
		}
		if want := (Type{Rows: TokenRows, Cols: 1, DType: Int32}); x.Kind != KindInput || x.Type() != want {
			v.errorf("%s %s is a %v %v, want an input %v", in.name, ref(x), x.Type(), x.Kind, want)
		}
	}
}

// instr checks the parts of in that do not depend on its place; false
// means in is too broken to look at further.
func (v *verifier) instr(where string, in *Instr) bool {
	if in == nil {
		v.errorf("%s: nil instruction", where)
		return false
	}
	if in.Op <= OpInvalid || in.Op >= numOps {
		v.errorf("%s: invalid op %d", where, int(in.Op))
		return false
	}
	sig := opSigs[in.Op]
	if len(in.Args) != sig.args || len(in.Outs) != sig.outs {
		v.errorf("%s: %d arguments and %d results, want %d and %d", where, len(in.Args), len(in.Outs), sig.args, sig.outs)
		return false
	}
	for _, x := range append(append([]*Value(nil), in.Args...), in.Outs...) {
		if !v.known(x) {
			v.errorf("%s: refers to a value that is not in the program", where)
			return false
		}
	}
	for i, o := range in.Outs {
		for _, a := range in.Args {
			if a == o {
				v.errorf("%s: %s is both an argument and a result", where, ref(o))
				return false
			}
		}
		for _, o2 := range in.Outs[:i] {
			if o2 == o {
				v.errorf("%s: %s is a result twice", where, ref(o))
				return false
			}
		}
	}
	if err := checkInstr(in); err != nil {
		v.errorf("%s: %v", where, err)
	}
	return true
}

func (v *verifier) outputs(defined []bool) {
	p := v.p
	if p.Logits != nil {
		if !v.known(p.Logits) {
			v.errorf("logits are not one of the program's values")
		} else if p.Logits.DType != Float {
			v.errorf("logits %s are %v", ref(p.Logits), p.Logits.Type())
		}
	}
	if p.Loss == nil {
		v.errorf("no loss")
		return
	}
	if !v.known(p.Loss) {
		v.errorf("loss is not one of the program's values")
		return
	}
	if !defined[p.Loss.ID] {
		v.errorf("loss %s not defined by the forward instructions", ref(p.Loss))
	}
	if p.Logits != nil && p.Loss.Type() != static(1, 1) {
		v.errorf("loss %s is %v, want [1,1]", ref(p.Loss), p.Loss.Type())
	}
	if ce := p.CE; ce != nil {
		switch {
		case !v.known(ce):
			v.errorf("CE is not one of the program's values")
		case ce.Type() != static(1, 1) || ce.Kind != KindTemp:
			v.errorf("CE %s is a %v %v, want a [1,1] temp", ref(ce), ce.Type(), ce.Kind)
		case !defined[ce.ID]:
			v.errorf("CE %s not defined by the forward instructions", ref(ce))
		}
	}
}

func (v *verifier) backward(defined []bool) {
	p := v.p
	if len(p.Backward) == 0 && p.DLoss == nil {
		return
	}
	dl := p.DLoss
	switch {
	case dl == nil:
		v.errorf("backward instructions without DLoss")
		return
	case !v.known(dl):
		v.errorf("DLoss is not one of the program's values")
		return
	case dl.Kind != KindTemp || dl.GradOf != p.Loss:
		v.errorf("DLoss %s is not a temp gradient of the loss", ref(dl))
	case p.Loss != nil && dl.Type() != p.Loss.Type():
		v.errorf("DLoss %s is %v, the loss is %v", ref(dl), dl.Type(), p.Loss.Type())
	}
	written := make([]bool, len(p.Values))
	written[dl.ID] = true
	for i, in := range p.Backward {
		where := fmt.Sprintf("backward[%d] %v", i, opOf(in))
		if !v.instr(where, in) {
			continue
		}
		switch {
		case in.Op == OpMatMul && !in.Attrs.Acc:
			v.errorf("%s: matmul without acc in the backward list", where)
		case !in.Op.IsBackward() && in.Op != OpMatMul:
			v.errorf("%s: forward op in the backward list", where)
		}
		for _, a := range in.Args {
			if isGrad(a) && !written[a.ID] {
				v.errorf("%s: gradient %s read before it is written", where, ref(a))
			}
			if !isGrad(a) && !defined[a.ID] {
				v.errorf("%s: %s is never defined", where, ref(a))
			}
		}
		for _, o := range in.Outs {
			switch {
			case o == dl:
				v.errorf("%s: writes DLoss", where)
			case !isGrad(o):
				v.errorf("%s: result %s is a %v that is not a gradient", where, ref(o), o.Kind)
			}
			written[o.ID] = true
		}
	}
}

// isGrad reports whether x is a gradient buffer (zeroed before Backward).
func isGrad(x *Value) bool {
	return x.Kind == KindGrad || (x.Kind == KindTemp && x.GradOf != nil)
}
