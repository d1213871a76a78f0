package check

import (
	"strings"

	"github.com/bfcdev/bfc/lang/ast"
	"github.com/bfcdev/bfc/lang/parser"
	"github.com/bfcdev/bfc/lang/source"
)

// attrSpec is one keyword attribute of a primitive, or one parameter of a
// block seen from a call.
type attrSpec struct {
	name     string
	typ      typ
	required bool
	// example is a value shown when the attribute is missing; "" shows
	// <typ>.
	example string
}

// primitive describes a layer primitive: its attributes and how it maps
// the stream's width. The table below drives the checks; a new primitive
// is one more entry.
type primitive struct {
	name string
	// unsupported, when set, rejects the primitive with UnsupportedLayer
	// and this message.
	unsupported string
	attrs       []attrSpec // the primitive's own attributes; commonAttrs follow
	// build fills the primitive's fields of x.l from the attributes and
	// returns the output width.
	build func(x *layerCtx) value
}

// commonAttrs are the attributes of every sub-layer: its norm wrapper and
// residual.
var commonAttrs = []attrSpec{
	{name: "norm", typ: tNorm},
	{name: "placement", typ: tPlacement},
	{name: "residual", typ: tBool},
	{name: "eps", typ: tReal},
}

var primitives = map[string]*primitive{
	"attention": {
		name: "attention",
		attrs: []attrSpec{
			{name: "heads", typ: tInt, required: true},
			{name: "head_dim", typ: tDim},
			{name: "causal", typ: tBool},
		},
		build: buildAttention,
	},
	"ffn": {
		name: "ffn",
		attrs: []attrSpec{
			{name: "hidden", typ: tDim, required: true},
			{name: "act", typ: tAct},
			{name: "out", typ: tDim},
		},
		build: buildFFN,
	},
	"moe": {
		name: "moe",
		attrs: []attrSpec{
			{name: "experts", typ: tInt, required: true},
			{name: "hidden", typ: tDim, required: true},
			{name: "act", typ: tAct},
			{name: "route", typ: tRoute, required: true, example: "expert_choice(capacity: 1, group: position)"},
		},
		build: buildMoE,
	},
}

// primitiveNames lists the supported primitives, for messages.
func primitiveNames() []string { return []string{"attention", "ffn", "moe"} }

// allAttrs returns p's attributes followed by the common ones.
func (p *primitive) allAttrs() []attrSpec {
	return append(append([]attrSpec(nil), p.attrs...), commonAttrs...)
}

// layerDefaults are the block-level defaults of the norm wrapper.
type layerDefaults struct {
	norm, placement value
}

// layerCtx is the state of one sub-layer's check.
type layerCtx struct {
	ev   *evaluator
	call *ast.Call
	args *boundArgs
	in   value // width of the stream entering the sub-layer
	l    *Layer
}

// get returns the attribute's value and whether the call gave it.
func (x *layerCtx) get(name string) (value, bool) {
	v, ok := x.args.vals[name]
	return v, ok
}

// pos is the position of the attribute's value, or of the call if the
// attribute was not given.
func (x *layerCtx) pos(name string) source.Pos {
	if a := x.args.args[name]; a != nil {
		return parser.Pos(a.Value.Pos)
	}
	return parser.Pos(x.call.Func.Pos)
}

func buildAttention(x *layerCtx) value {
	heads, _ := x.get("heads")
	if heads.ok() && (heads.i <= 0 || heads.i > maxSize) {
		x.ev.errorf(x.pos("heads"), heads.dep, InvalidSize, "heads must be between 1 and %d, got %d", maxSize, heads.i)
		heads = invalid
	}
	hd, given := x.get("head_dim")
	if !given {
		switch {
		case !heads.valid() || !x.in.valid():
			hd = invalid
		case heads.ok() && x.in.ok():
			if x.in.i%heads.i != 0 {
				x.ev.errorf(x.pos("heads"), heads.dep || x.in.dep, InvalidDim,
					"head_dim = width / heads: %d is not divisible by %d; set head_dim or use heads that divide %d",
					x.in.i, heads.i, x.in.i)
				hd = invalid
			} else {
				hd = intVal(x.in.i / heads.i)
			}
		default:
			hd = unknown(tDim, heads.dep || x.in.dep)
		}
	}
	causal, given := x.get("causal")
	if !given {
		causal = boolVal(true)
	}
	x.l.Heads = intOf(heads)
	x.l.HeadDim = intOf(hd)
	x.l.Causal = causal.ok() && causal.b
	return x.in
}

func buildFFN(x *layerCtx) value {
	hidden, _ := x.get("hidden")
	act, given := x.get("act")
	if !given {
		act = wordVal("gelu")
	}
	out, given := x.get("out")
	if !given {
		out = x.in
	}
	x.l.Hidden = intOf(hidden)
	if act.ok() {
		x.l.Act = act.w
	}
	return out
}

// intOf returns a known int value as an int, else 0.
func intOf(v value) int {
	if v.ok() && v.cls == cInt {
		return int(v.i)
	}
	return 0
}

// subLayer checks one sub-layer on a stream of width in and returns the
// layer (nil if its kind is unknown) and the width after it.
func (c *checker) subLayer(ev *evaluator, sl *ast.SubLayer, in value, defaults layerDefaults) (*Layer, value) {
	call := sl.Call
	name := call.Func.Name
	fpos := parser.Pos(call.Func.Pos)
	prim := primitives[name]
	switch {
	case prim == nil:
		if obj := c.global.lookup(name); obj != nil && obj.kind == blockObj {
			ev.errorf(fpos, false, UnsupportedLayer, "%s is a block and blocks do not nest; list it in the model's repeat instead", name)
		} else {
			ev.errorf(fpos, false, UnknownName, "unknown layer %s%s; want %s", name, didYouMean(name, primitiveNames()), oneOf(primitiveNames()))
		}
		return nil, invalid
	case prim.unsupported != "":
		ev.errorf(fpos, false, UnsupportedLayer, "%s", prim.unsupported)
		return nil, invalid
	}

	args := c.bindArgs(ev, call, prim.allAttrs(), "attribute", name)
	l := &Layer{Sub: sl.Name.Name, Pos: parser.Pos(sl.Pos), Kind: prim.name}
	x := &layerCtx{ev: ev, call: call, args: args, in: in, l: l}

	norm, given := x.get("norm")
	if !given {
		norm = defaults.norm
	}
	placement, given := x.get("placement")
	if !given {
		placement = defaults.placement
	}
	residual, given := x.get("residual")
	if !given {
		residual = boolVal(true)
	}
	eps, given := x.get("eps")
	switch {
	case given && eps.ok() && eps.r <= 0:
		ev.errorf(x.pos("eps"), eps.dep, InvalidValue, "eps must be positive, got %g", eps.r)
	case !given && norm.ok():
		eps = realVal(normEps(norm.w))
	}
	if norm.ok() {
		l.Norm = norm.w
	}
	if placement.ok() {
		l.Placement = placement.w
	}
	l.Residual = residual.ok() && residual.b
	if eps.ok() {
		l.Eps = eps.r
	}

	out := prim.build(x)
	if residual.ok() && residual.b && in.ok() && out.ok() && in.i != out.i {
		ev.errorf(parser.Pos(sl.Name.Pos), in.dep || out.dep, WidthMismatch,
			"residual around %s adds width %d to a stream of width %d; set out: %d or residual: false",
			sl.Name.Name, out.i, in.i, in.i)
	}
	l.In, l.Out = intOf(in), intOf(out)
	if residual.ok() && residual.b && out.ok() && in.ok() && in.i != out.i {
		// The residual stream keeps its width; checking on with it reports
		// nothing the fix (out: in) would not also remove.
		return l, in
	}
	return l, out
}

// boundArgs are a call's keyword arguments matched to attributes.
type boundArgs struct {
	vals map[string]value
	args map[string]*ast.Arg
}

// bindArgs matches call's arguments to specs and evaluates them. noun
// ("attribute", "parameter") and owner name the attributes in messages.
func (c *checker) bindArgs(ev *evaluator, call *ast.Call, specs []attrSpec, noun, owner string) *boundArgs {
	b := &boundArgs{vals: map[string]value{}, args: map[string]*ast.Arg{}}
	var names []string
	for _, s := range specs {
		names = append(names, s.name)
	}
	unknownAttrs := false
	for _, a := range call.Args {
		name := a.Name.Name
		var spec *attrSpec
		for i := range specs {
			if specs[i].name == name {
				spec = &specs[i]
			}
		}
		if spec == nil {
			valid := "it has none"
			if len(names) > 0 {
				valid = "valid: " + strings.Join(names, ", ")
			}
			ev.errorf(parser.Pos(a.Name.Pos), false, UnknownAttr, "unknown %s %s for %s%s; %s",
				noun, name, owner, didYouMean(name, names), valid)
			unknownAttrs = true
			continue
		}
		if prev := b.args[name]; prev != nil {
			d := ev.errorf(parser.Pos(a.Name.Pos), false, DuplicateDecl, "%s %s given twice", noun, name)
			note(d, parser.Pos(prev.Name.Pos), "other value of %s", name)
			continue
		}
		b.args[name] = a
		b.vals[name] = ev.eval(a.Value, spec.typ, name)
	}
	var missing, add []string
	for _, s := range specs {
		if s.required && b.args[s.name] == nil {
			missing = append(missing, s.name)
			ex := s.example
			if ex == "" {
				ex = "<" + string(s.typ) + ">"
			}
			add = append(add, s.name+": "+ex)
			b.vals[s.name] = invalid
		}
	}
	// A missing attribute next to an unknown one is most likely the same
	// mistake (a misspelt name): report only the unknown one.
	if len(missing) > 0 && !unknownAttrs {
		what := noun
		if len(missing) > 1 {
			what += "s"
		}
		ev.errorf(parser.Pos(call.Func.Pos), false, MissingAttr, "%s needs %s %s; add %s",
			owner, what, strings.Join(missing, ", "), strings.Join(add, ", "))
	}
	return b
}
