package ir

import (
	"fmt"
	"math"
	"strconv"
)

// Type is the 2-D shape and element type of a value.
type Type struct {
	Rows  Rows
	Cols  int
	DType DType
}

// Type returns v's type.
func (v *Value) Type() Type { return Type{Rows: v.Rows, Cols: v.Cols, DType: v.DType} }

func (t Type) String() string {
	s := "[" + t.Rows.String() + "," + strconv.Itoa(t.Cols) + "]"
	if t.DType == Int32 {
		s += " i32"
	}
	return s
}

func (r Rows) String() string {
	if r.Tokens {
		return "T"
	}
	return strconv.Itoa(r.N)
}

func (d DType) String() string {
	switch d {
	case Float:
		return "float"
	case Int32:
		return "i32"
	}
	return "dtype?"
}

func (k Kind) String() string {
	switch k {
	case KindInput:
		return "input"
	case KindParam:
		return "param"
	case KindGrad:
		return "grad"
	case KindTemp:
		return "temp"
	}
	return "kind?"
}

// IsBackward reports whether o is a backward operation: emitted by autodiff,
// always accumulating, and without a gradient rule of its own.
func (o Op) IsBackward() bool { return o >= OpEmbedGrad && o < numOps }

// Acts are the element-wise activations OpAct, OpGLU and their gradients
// accept in Attrs.Act.
var Acts = []string{"relu", "gelu", "gelu_tanh", "sqrelu", "silu"}

func isAct(s string) bool {
	for _, a := range Acts {
		if a == s {
			return true
		}
	}
	return false
}

// Shape checks per op. Every op has a fixed number of arguments and results.
// Forward ops infer their result types from the arguments (InferTypes), which
// lowering uses to create results and Verify uses to check them; backward ops
// check arguments and results together, since a gradient's rows (a table's
// vocabulary, a position table's length) are not implied by the arguments.
type opSig struct {
	args, outs int
	grads      int                                          // results a gradient may flow into (the first grads); 0 means 1
	infer      func(a Attrs, args []*Value) ([]Type, error) // forward ops
	check      func(in *Instr) error                        // backward ops
}

var opSigs = [numOps]opSig{
	OpEmbed:        {args: 2, outs: 1, infer: inferEmbed},
	OpAddPos:       {args: 2, outs: 1, infer: inferAddPos},
	OpMatMul:       {args: 2, outs: 1, infer: inferMatMul},
	OpRMSNorm:      {args: 2, outs: 2, infer: inferRMSNorm},
	OpLayerNorm:    {args: 3, outs: 3, infer: inferLayerNorm},
	OpAttention:    {args: 1, outs: 2, infer: inferAttention},
	OpAct:          {args: 1, outs: 1, infer: inferAct},
	OpGLU:          {args: 1, outs: 1, infer: inferGLU},
	OpAdd:          {args: 2, outs: 1, infer: inferAdd},
	OpCrossEntropy: {args: 2, outs: 2, infer: inferCrossEntropy},
	OpMoE:          {args: 4, outs: 2, grads: 2, infer: inferMoE},

	OpEmbedGrad:        {args: 2, outs: 1, check: checkEmbedGrad},
	OpAddPosGrad:       {args: 1, outs: 1, check: checkAddPosGrad},
	OpRMSNormGrad:      {args: 4, outs: 2, check: checkRMSNormGrad},
	OpLayerNormGrad:    {args: 5, outs: 3, check: checkLayerNormGrad},
	OpAttentionGrad:    {args: 4, outs: 1, check: checkAttentionGrad},
	OpActGrad:          {args: 2, outs: 1, check: checkActGrad},
	OpGLUGrad:          {args: 2, outs: 1, check: checkGLUGrad},
	OpAccum:            {args: 1, outs: 1, check: checkAccum},
	OpCrossEntropyGrad: {args: 4, outs: 1, check: checkCrossEntropyGrad},
	OpMoEGrad:          {args: 6, outs: 4, check: checkMoEGrad},
}

// NumArgs and NumOuts return how many arguments and results o takes.
func (o Op) NumArgs() int { return opSigs[o].args }

// NumOuts returns how many results o produces.
func (o Op) NumOuts() int { return opSigs[o].outs }

// GradOuts returns how many of o's results, counted from the first, a
// gradient may flow into: 1 for most forward ops (the others are saved
// side results such as a norm's rstd), 2 for moe (y and its router
// losses).
func (o Op) GradOuts() int {
	if o <= OpInvalid || o >= numOps {
		return 0
	}
	if n := opSigs[o].grads; n > 0 {
		return n
	}
	return 1
}

// InferTypes returns the result types of forward op o applied to args, or
// an error saying why the arguments do not fit the op.
func InferTypes(o Op, a Attrs, args ...*Value) ([]Type, error) {
	if o <= OpInvalid || o >= numOps || opSigs[o].infer == nil {
		return nil, fmt.Errorf("%v is not a forward op", o)
	}
	if len(args) != opSigs[o].args {
		return nil, fmt.Errorf("%v takes %d arguments, got %d", o, opSigs[o].args, len(args))
	}
	for i, v := range args {
		if v == nil {
			return nil, fmt.Errorf("argument %d is nil", i)
		}
	}
	return opSigs[o].infer(a, args)
}

// checkInstr checks in's argument and result types against its op.
func checkInstr(in *Instr) error {
	sig := opSigs[in.Op]
	if sig.check != nil {
		return sig.check(in)
	}
	want, err := sig.infer(in.Attrs, in.Args)
	if err != nil {
		return err
	}
	for i, t := range want {
		if got := in.Outs[i].Type(); got != t {
			return fmt.Errorf("result %d is %v, want %v", i, got, t)
		}
	}
	return nil
}

func tok(cols int) Type         { return Type{Rows: TokenRows, Cols: cols} }
func static(r, c int) Type      { return Type{Rows: Static(r), Cols: c} }
func rowsOf(r Rows, c int) Type { return Type{Rows: r, Cols: c} }

// want checks that v has type t; what names v in the message.
func want(what string, v *Value, t Type) error {
	if v.Type() != t {
		return fmt.Errorf("%s is %v, want %v", what, v.Type(), t)
	}
	return nil
}

func wantFloat(what string, vs ...*Value) error {
	for _, v := range vs {
		if v.DType != Float {
			return fmt.Errorf("%s is %v, want float", what, v.Type())
		}
	}
	return nil
}

func wantStatic(what string, v *Value) error {
	if v.Rows.Tokens {
		return fmt.Errorf("%s is %v, want static rows", what, v.Type())
	}
	return nil
}

func wantTokens(what string, v *Value) error {
	if !v.Rows.Tokens {
		return fmt.Errorf("%s is %v, want T rows", what, v.Type())
	}
	return nil
}

func wantIDs(what string, v *Value) error {
	if v.DType != Int32 || v.Cols != 1 {
		return fmt.Errorf("%s is %v, want [*,1] i32", what, v.Type())
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func inferEmbed(_ Attrs, args []*Value) ([]Type, error) {
	ids, table := args[0], args[1]
	if err := firstErr(wantIDs("tokens", ids), wantFloat("table", table), wantStatic("table", table)); err != nil {
		return nil, err
	}
	return []Type{rowsOf(ids.Rows, table.Cols)}, nil
}

func inferAddPos(_ Attrs, args []*Value) ([]Type, error) {
	x, pos := args[0], args[1]
	if err := firstErr(wantFloat("x", x), wantTokens("x", x), wantFloat("pos", pos), wantStatic("pos", pos),
		want("pos", pos, static(pos.Rows.N, x.Cols))); err != nil {
		return nil, err
	}
	return []Type{x.Type()}, nil
}

// matmulDims returns op(A) as [m,k] and op(B) as [k2,n], each dimension as Rows.
func matmulDims(a Attrs, A, B *Value) (m, k, k2, n Rows) {
	m, k = A.Rows, Static(A.Cols)
	if a.TransA {
		m, k = k, m
	}
	k2, n = B.Rows, Static(B.Cols)
	if a.TransB {
		k2, n = n, k2
	}
	return
}

func inferMatMul(a Attrs, args []*Value) ([]Type, error) {
	A, B := args[0], args[1]
	if err := firstErr(wantFloat("A", A), wantFloat("B", B)); err != nil {
		return nil, err
	}
	m, k, k2, n := matmulDims(a, A, B)
	if k != k2 {
		return nil, fmt.Errorf("inner dimensions differ: op(A) is [%v,%v], op(B) is [%v,%v]", m, k, k2, n)
	}
	if n.Tokens {
		return nil, fmt.Errorf("op(B) is [%v,%v]: the result cannot have T columns", k2, n)
	}
	return []Type{rowsOf(m, n.N)}, nil
}

func inferRMSNorm(a Attrs, args []*Value) ([]Type, error) {
	x, g := args[0], args[1]
	if err := firstErr(wantFloat("x", x), want("scale", g, static(1, x.Cols)), wantEps(a)); err != nil {
		return nil, err
	}
	return []Type{x.Type(), rowsOf(x.Rows, 1)}, nil
}

func inferLayerNorm(a Attrs, args []*Value) ([]Type, error) {
	x, g, b := args[0], args[1], args[2]
	if err := firstErr(wantFloat("x", x), want("scale", g, static(1, x.Cols)), want("bias", b, static(1, x.Cols)), wantEps(a)); err != nil {
		return nil, err
	}
	return []Type{x.Type(), rowsOf(x.Rows, 1), rowsOf(x.Rows, 1)}, nil
}

func wantEps(a Attrs) error {
	if !(a.Eps >= 0) {
		return fmt.Errorf("eps=%v, want eps >= 0", a.Eps)
	}
	return nil
}

func wantHeads(a Attrs) error {
	if a.Heads <= 0 || a.HeadDim <= 0 {
		return fmt.Errorf("heads=%d head_dim=%d, want both positive", a.Heads, a.HeadDim)
	}
	return nil
}

func inferAttention(a Attrs, args []*Value) ([]Type, error) {
	qkv := args[0]
	if err := firstErr(wantHeads(a), wantFloat("qkv", qkv), wantTokens("qkv", qkv)); err != nil {
		return nil, err
	}
	if w := 3 * a.Heads * a.HeadDim; qkv.Cols != w {
		return nil, fmt.Errorf("qkv has %d columns, want 3·heads·head_dim = %d", qkv.Cols, w)
	}
	return []Type{tok(a.Heads * a.HeadDim), tok(a.Heads)}, nil
}

func wantAct(a Attrs) error {
	if !isAct(a.Act) {
		return fmt.Errorf("unknown activation %q", a.Act)
	}
	return nil
}

func inferAct(a Attrs, args []*Value) ([]Type, error) {
	if err := firstErr(wantAct(a), wantFloat("x", args[0])); err != nil {
		return nil, err
	}
	return []Type{args[0].Type()}, nil
}

func inferGLU(a Attrs, args []*Value) ([]Type, error) {
	x := args[0]
	if err := firstErr(wantAct(a), wantFloat("x", x)); err != nil {
		return nil, err
	}
	if x.Cols%2 != 0 {
		return nil, fmt.Errorf("x has %d columns, want an even number (gate and up halves)", x.Cols)
	}
	return []Type{rowsOf(x.Rows, x.Cols/2)}, nil
}

func inferAdd(_ Attrs, args []*Value) ([]Type, error) {
	a, b := args[0], args[1]
	if err := firstErr(wantFloat("a", a), want("b", b, a.Type())); err != nil {
		return nil, err
	}
	return []Type{a.Type()}, nil
}

func inferCrossEntropy(_ Attrs, args []*Value) ([]Type, error) {
	logits, targets := args[0], args[1]
	if err := firstErr(wantFloat("logits", logits), wantIDs("targets", targets),
		want("targets", targets, Type{Rows: logits.Rows, Cols: 1, DType: Int32})); err != nil {
		return nil, err
	}
	return []Type{static(1, 1), rowsOf(logits.Rows, 1)}, nil
}

func checkEmbedGrad(in *Instr) error {
	dy, ids, dt := in.Args[0], in.Args[1], in.Outs[0]
	return firstErr(wantIDs("tokens", ids), wantFloat("dy", dy), want("dy", dy, rowsOf(ids.Rows, dy.Cols)),
		wantFloat("dtable", dt), wantStatic("dtable", dt), want("dtable", dt, static(dt.Rows.N, dy.Cols)))
}

func checkAddPosGrad(in *Instr) error {
	dy, dp := in.Args[0], in.Outs[0]
	return firstErr(wantFloat("dy", dy), wantTokens("dy", dy), wantFloat("dpos", dp), wantStatic("dpos", dp),
		want("dpos", dp, static(dp.Rows.N, dy.Cols)))
}

func checkRMSNormGrad(in *Instr) error {
	dy, x, g, rstd := in.Args[0], in.Args[1], in.Args[2], in.Args[3]
	t := x.Type()
	return firstErr(wantFloat("x", x), want("dy", dy, t), want("scale", g, static(1, x.Cols)),
		want("rstd", rstd, rowsOf(x.Rows, 1)), want("dx", in.Outs[0], t), want("dscale", in.Outs[1], g.Type()))
}

func checkLayerNormGrad(in *Instr) error {
	dy, x, g, mean, rstd := in.Args[0], in.Args[1], in.Args[2], in.Args[3], in.Args[4]
	t := x.Type()
	return firstErr(wantFloat("x", x), want("dy", dy, t), want("scale", g, static(1, x.Cols)),
		want("mean", mean, rowsOf(x.Rows, 1)), want("rstd", rstd, rowsOf(x.Rows, 1)),
		want("dx", in.Outs[0], t), want("dscale", in.Outs[1], g.Type()), want("dbias", in.Outs[2], g.Type()))
}

func checkAttentionGrad(in *Instr) error {
	dy, qkv, y, lse := in.Args[0], in.Args[1], in.Args[2], in.Args[3]
	types, err := inferAttention(in.Attrs, []*Value{qkv})
	if err != nil {
		return err
	}
	return firstErr(want("dy", dy, types[0]), want("y", y, types[0]), want("lse", lse, types[1]),
		want("dqkv", in.Outs[0], qkv.Type()))
}

func checkActGrad(in *Instr) error {
	dy, x := in.Args[0], in.Args[1]
	return firstErr(wantAct(in.Attrs), wantFloat("x", x), want("dy", dy, x.Type()), want("dx", in.Outs[0], x.Type()))
}

func checkGLUGrad(in *Instr) error {
	dy, x := in.Args[0], in.Args[1]
	types, err := inferGLU(in.Attrs, []*Value{x})
	if err != nil {
		return err
	}
	return firstErr(want("dy", dy, types[0]), want("dx", in.Outs[0], x.Type()))
}

func checkAccum(in *Instr) error {
	src := in.Args[0]
	return firstErr(wantFloat("src", src), want("dst", in.Outs[0], src.Type()))
}

func checkCrossEntropyGrad(in *Instr) error {
	dl, logits, lse, targets := in.Args[0], in.Args[1], in.Args[2], in.Args[3]
	types, err := inferCrossEntropy(in.Attrs, []*Value{logits, targets})
	if err != nil {
		return err
	}
	return firstErr(want("dloss", dl, types[0]), want("lse", lse, types[1]), want("dlogits", in.Outs[0], logits.Type()))
}

func isOneOf(s string, list []string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func finiteNonNeg(x float64) bool { return x >= 0 && !math.IsInf(x, 1) }

// wantMoE checks the routing configuration of a moe op.
func wantMoE(a Attrs) error {
	m := a.MoE
	switch {
	case m == nil:
		return fmt.Errorf("no moe attributes")
	case m.Experts < 1 || m.Hidden < 1:
		return fmt.Errorf("experts=%d hidden=%d, want both positive", m.Experts, m.Hidden)
	case !isAct(m.Act):
		return fmt.Errorf("unknown expert activation %q", m.Act)
	case !isOneOf(m.Rule, Rules):
		return fmt.Errorf("unknown routing rule %q, want one of %v", m.Rule, Rules)
	case !isOneOf(m.Group, Groups):
		return fmt.Errorf("unknown routing group %q, want one of %v", m.Group, Groups)
	case !(m.Capacity > 0) || math.IsInf(m.Capacity, 1):
		return fmt.Errorf("capacity=%v, want a positive number", m.Capacity)
	case !finiteNonNeg(m.AuxWeight) || !finiteNonNeg(m.ZWeight):
		return fmt.Errorf("aux=%v z=%v, want weights >= 0", m.AuxWeight, m.ZWeight)
	case m.Workspace < 0:
		return fmt.Errorf("workspace %d, want >= 0", m.Workspace)
	case (m.Fill || m.Causal) && m.Rule != RuleExpertChoice:
		return fmt.Errorf("fill or causal under %s, want expert_choice", m.Rule)
	}
	switch m.Rule {
	case RuleTopK:
		if m.K < 1 || m.K > m.Experts {
			return fmt.Errorf("top_k with k=%d and %d experts, want 1 <= k <= experts", m.K, m.Experts)
		}
	case RuleExpertChoice:
		if m.K != 0 || m.AuxWeight != 0 {
			return fmt.Errorf("expert_choice with k=%d aux=%v: experts choose tokens and need no load-balancing loss; want both 0", m.K, m.AuxWeight)
		}
	}
	return nil
}

func inferMoE(a Attrs, args []*Value) ([]Type, error) {
	x, wg, w1, w2 := args[0], args[1], args[2], args[3]
	if err := firstErr(wantMoE(a), wantFloat("x", x), wantTokens("x", x)); err != nil {
		return nil, err
	}
	m, d := a.MoE, x.Cols
	if err := firstErr(
		wantFloat("router", wg), want("router", wg, static(d, m.Experts)),
		wantFloat("experts.up", w1), want("experts.up", w1, static(m.Experts*d, m.UpCols())),
		wantFloat("experts.down", w2), want("experts.down", w2, static(m.Experts*m.Hidden, d)),
	); err != nil {
		return nil, err
	}
	return []Type{x.Type(), static(1, 1)}, nil
}

func checkMoEGrad(in *Instr) error {
	a := in.Args
	types, err := inferMoE(in.Attrs, a[2:])
	if err != nil {
		return err
	}
	o := in.Outs
	return firstErr(want("dy", a[0], types[0]), want("daux", a[1], types[1]),
		want("dx", o[0], a[2].Type()), want("drouter", o[1], a[3].Type()),
		want("dexperts.up", o[2], a[4].Type()), want("dexperts.down", o[3], a[5].Type()))
}
