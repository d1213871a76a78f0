package check

import (
	"fmt"
	"math"

	"github.com/bfcdev/bfc/lang/ast"
	"github.com/bfcdev/bfc/lang/parser"
	"github.com/bfcdev/bfc/lang/source"
)

// The moe primitive and its routing rules.
//
// A routing rule is a call written as the value of moe's route attribute:
// expert_choice(...) or top_k(...). The checker evaluates it like any other
// attribute value, into a value of class cRoute that carries the rule's
// own attributes. What can be checked without the model (types, capacity >
// 0, top_k's k against the layer's experts, an aux weight given to expert
// choice) is checked where the layer is; what needs the model (expert
// choice's k at the declared maximum group size, and the causal-leak rule
// for expert choice and for top_k with k >= 2) is checked after the model
// is expanded (checkRoutes).

// ruleSpec describes a routing rule.
type ruleSpec struct {
	name  string
	attrs []attrSpec
}

var routeRules = map[string]*ruleSpec{
	"expert_choice": {
		name: "expert_choice",
		attrs: []attrSpec{
			{name: "capacity", typ: tReal, required: true, example: "1"},
			{name: "group", typ: tGroup, required: true, example: "position"},
			{name: "zloss", typ: tReal},
			{name: "fill", typ: tFill},
			{name: "causal", typ: tBool},
			{name: "leak", typ: tLeak},
		},
	},
	"top_k": {
		name: "top_k",
		attrs: []attrSpec{
			{name: "k", typ: tInt},
			{name: "capacity", typ: tReal},
			{name: "group", typ: tGroup},
			{name: "aux", typ: tReal},
			{name: "zloss", typ: tReal},
			{name: "drop", typ: tDrop},
			{name: "leak", typ: tLeak},
		},
	},
}

// foreignAttrs holds, per rule, the other rule's attributes and why they do
// not apply.
var foreignAttrs = map[string]map[string]string{
	"expert_choice": {
		"aux": "expert choice balances load by construction and takes no auxiliary loss; remove aux (zloss, the router z-loss, is allowed)",
		"k":   "expert choice derives k, the tokens each expert takes, from the capacity: k = floor(n·c/E) for n tokens per group; set capacity instead",
	},
	"top_k": {
		"fill":   "fill is an expert_choice attribute: under top_k every token already picks its k experts; raise capacity if choices are dropped",
		"causal": "causal is an expert_choice attribute: top_k with k = 1 is causal over every group, and with k >= 2 over group: position",
	},
}

// ruleNames lists the routing rules, for messages.
var ruleNames = []string{"expert_choice", "top_k"}

// Defaults of top_k's attributes.
const (
	topKDefaultK        = 2
	topKDefaultCapacity = 1.25
	topKDefaultAux      = 0.01
)

// routeVal is an evaluated routing rule.
type routeVal struct {
	rule string
	pos  source.Pos // the rule's name
	args *boundArgs
	// The attributes, defaults filled in; invalid where evaluation failed,
	// unknown in a block's generic pass.
	k, capacity, group, aux, zloss, drop, leak, fill, causal value
}

// argPos is the position of attribute name's value, or of the rule if the
// attribute was not given.
func (r *routeVal) argPos(name string) source.Pos {
	if a := r.args.args[name]; a != nil {
		return parser.Pos(a.Value.Pos)
	}
	return r.pos
}

// routeRule evaluates a routing rule written as a call.
func (ev *evaluator) routeRule(call *ast.Call) value {
	name := call.Func.Name
	pos := parser.Pos(call.Func.Pos)
	spec := routeRules[name]
	if spec == nil {
		if primitives[name] != nil {
			ev.errorf(pos, false, InvalidAttrType, "%s is a layer, not a routing rule; want expert_choice(...) or top_k(...)", name)
		} else {
			ev.errorf(pos, false, UnknownName, "unknown routing rule %s%s; want expert_choice(...) or top_k(...)", name, didYouMean(name, ruleNames))
		}
		return invalid
	}

	// Attributes that belong to the other rule get a message saying why
	// rather than a plain "unknown attribute".
	var args []*ast.Arg
	for _, a := range call.Args {
		if why, ok := foreignAttrs[name][a.Name.Name]; ok {
			ev.errorf(parser.Pos(a.Name.Pos), false, InvalidRoute, "%s", why)
			continue
		}
		args = append(args, a)
	}
	filtered := *call
	filtered.Args = args
	b := ev.c.bindArgs(ev, &filtered, spec.attrs, "attribute", name)

	r := &routeVal{rule: name, pos: pos, args: b}
	get := func(attr string, def value) value {
		if v, ok := b.vals[attr]; ok {
			return v
		}
		return def
	}
	r.capacity = get("capacity", realVal(topKDefaultCapacity))
	r.group = get("group", wordVal("batch"))
	r.zloss = get("zloss", realVal(0))
	r.leak = get("leak", invalid)
	r.fill = get("fill", wordVal("none"))
	r.causal = get("causal", invalid)
	if name == "top_k" {
		r.k = get("k", intVal(topKDefaultK))
		r.aux = get("aux", realVal(topKDefaultAux))
		r.drop = get("drop", wordVal("overflow"))
	} else {
		r.k, r.aux, r.drop = invalid, realVal(0), invalid
	}

	if v := r.capacity; v.ok() && v.r <= 0 {
		ev.errorf(r.argPos("capacity"), v.dep, InvalidRoute, "capacity must be positive, got %g; it is the average number of experts per token (expert_choice) or the slack of each expert's buffer (top_k)", v.r)
		r.capacity = invalid
	}
	if v := r.k; v.ok() && v.i < 1 {
		ev.errorf(r.argPos("k"), v.dep, InvalidRoute, "top_k needs k of at least 1 expert per token, got %d", v.i)
		r.k = invalid
	}
	for _, attr := range []string{"aux", "zloss"} {
		v := b.vals[attr]
		if v.ok() && v.r < 0 {
			ev.errorf(r.argPos(attr), v.dep, InvalidRoute, "%s is a loss weight and must not be negative, got %g; 0 turns the loss off", attr, v.r)
			if attr == "aux" {
				r.aux = invalid
			} else {
				r.zloss = invalid
			}
		}
	}
	dep := false
	for _, v := range b.vals {
		dep = dep || v.dep
	}
	return value{cls: cRoute, known: true, dep: dep, typ: tRoute, rt: r}
}

// bareRule reports a routing rule written without its arguments, or an
// unknown name where a routing rule is wanted.
func (ev *evaluator) bareRule(pos source.Pos, name string) value {
	switch name {
	case "top_k":
		ev.errorf(pos, false, InvalidRoute, "write top_k() for top-k routing with its defaults (k: 2, capacity: 1.25, group: batch)")
	case "expert_choice":
		ev.errorf(pos, false, InvalidRoute, "expert_choice needs its capacity and group, as in expert_choice(capacity: 1, group: position)")
	default:
		ev.errorf(pos, false, UnknownName, "unknown routing rule %s%s; want expert_choice(...) or top_k(...)", name, didYouMean(name, ruleNames))
	}
	return invalid
}

func buildMoE(x *layerCtx) value {
	experts, _ := x.get("experts")
	if experts.ok() && (experts.i < 1 || experts.i > maxSize) {
		x.ev.errorf(x.pos("experts"), experts.dep, InvalidSize, "experts must be between 1 and %d, got %d", maxSize, experts.i)
		experts = invalid
	}
	hidden, _ := x.get("hidden")
	act, given := x.get("act")
	if !given {
		act = wordVal("gelu")
	}
	x.l.Experts = intOf(experts)
	x.l.Hidden = intOf(hidden)
	if act.ok() {
		x.l.Act = act.w
	}

	route, _ := x.get("route")
	if !route.ok() || route.rt == nil {
		return x.in
	}
	r := route.rt
	rt := &x.l.Route
	rt.Rule = r.rule
	rt.Pos = r.pos
	rt.CapacityPos = r.argPos("capacity")
	rt.GroupPos = r.argPos("group")
	if r.capacity.ok() {
		rt.Capacity = r.capacity.r
	}
	if r.group.ok() {
		rt.Group = r.group.w
	}
	rt.K = intOf(r.k)
	if r.aux.ok() {
		rt.AuxWeight = r.aux.r
	}
	if r.zloss.ok() {
		rt.ZWeight = r.zloss.r
	}
	if r.drop.ok() {
		rt.Drop = r.drop.w
	}
	rt.AllowLeak = r.leak.ok() && r.leak.w == "allow"
	rt.Fill = r.fill.ok() && r.fill.w == "top1"
	rt.Causal = r.causal.ok() && r.causal.b

	if r.rule == "expert_choice" && r.capacity.ok() && experts.ok() && r.capacity.r > float64(experts.i) {
		x.ev.errorf(r.argPos("capacity"), r.capacity.dep || experts.dep, InvalidRoute,
			"expert choice capacity %g is the average number of experts per token and cannot exceed the layer's %d experts: each expert would take k = floor(n·c/E) > n tokens of a group of n, and an expert takes a token at most once; use capacity of at most %d",
			r.capacity.r, experts.i, experts.i)
	}
	if r.rule == "top_k" && r.k.ok() && experts.ok() && r.k.i > experts.i {
		what := fmt.Sprintf("k = %d", r.k.i)
		if r.args.args["k"] == nil {
			what += " (the default)"
		}
		x.ev.errorf(r.argPos("k"), r.k.dep || experts.dep, InvalidRoute,
			"top_k picks %s experts per token but the layer has %d; use k of at most %d or more experts", what, experts.i, experts.i)
	}
	return x.in
}

// checkRoutes checks the routing rules of m's moe layers against the whole
// model: the number of tokens each expert-choice expert takes, k, at the
// declared maximum batch and sequence length, and the causal-leak rule
// (routeLeak).
// (k <= n needs capacity <= E, which buildMoE checks.)
// input is the model's input statement (nil if missing); repeatAt holds the
// repeat statement of each block instance.
func (c *checker) checkRoutes(m *Model, input *ast.Call, repeatAt []source.Pos) {
	var causal *Layer
	for _, l := range m.Layers {
		if l.Kind == "attention" && l.Causal {
			causal = l
			break
		}
	}
	inst := func(d *source.Diagnostic, l *Layer) {
		if l.Instance < len(repeatAt) {
			note(d, source.Pos{}, "in %s of model %s (repeat at %s)", l.Name, m.Name, repeatAt[l.Instance])
		}
	}
	for _, l := range m.Layers {
		r := &l.Route
		if l.Kind != "moe" {
			continue
		}
		if causal != nil && !r.AllowLeak {
			if d := c.routeLeak(l, m.Name); d != nil {
				note(d, causal.Pos, "%s is causal attention", causal.Name)
				inst(d, l)
			}
		}
		if r.Rule != "expert_choice" {
			continue
		}
		// A capacity above E was reported with the layer.
		if m.MaxBatch <= 0 || m.MaxSeq <= 0 || l.Experts <= 0 || r.Capacity <= 0 || r.Capacity > float64(l.Experts) || r.Group == "" {
			continue
		}
		n := r.GroupSize(m.MaxBatch, m.MaxSeq)
		e := l.Experts
		if r.ExpertChoiceK(n, e) >= 1 {
			continue
		}
		var group string
		switch r.Group {
		case "batch":
			group = fmt.Sprintf("group: batch holds batch·seq = %d·%d = %d tokens", m.MaxBatch, m.MaxSeq, n)
		case "sequence":
			group = fmt.Sprintf("group: sequence holds seq = %d tokens", n)
		case "position":
			group = fmt.Sprintf("group: position holds one token of each of batch = %d sequences", n)
		}
		var raise string
		need := int64(math.Ceil(float64(e)/r.Capacity - roundEps))
		switch r.Group {
		case "batch":
			raise = fmt.Sprintf("batch·seq to at least %d", need)
		case "sequence":
			raise = fmt.Sprintf("input seq to at least %d", need)
		case "position":
			raise = fmt.Sprintf("input batch to at least %d", need)
		}
		fix := fmt.Sprintf("raise capacity to at least %g (E/n), %s (E/c)", float64(e)/float64(n), raise)
		if most := int64(math.Floor(float64(n)*r.Capacity + roundEps)); most >= 1 {
			fix += fmt.Sprintf(", or use at most %d experts", most)
		}
		d := c.errorf(r.CapacityPos, InvalidRoute, "expert choice gives each expert k = floor(n·c/E) = floor(%d·%g/%d) = 0 tokens (%s), so no expert takes any token; %s",
			n, r.Capacity, e, group, fix)
		if input != nil {
			note(d, parser.Pos(input.Func.Pos), "model %s declares input(batch: %d, seq: %d)", m.Name, m.MaxBatch, m.MaxSeq)
		}
		inst(d, l)
	}
}

// routeLeak reports moe layer l of causal model model if its routing lets
// an earlier token's output depend on later tokens of its sequence, and
// returns the diagnostic (nil if none). That is expert choice over group
// batch or sequence (an expert's competition for its k places spans later
// positions) and top_k with k >= 2 over them: every first choice of a group
// is placed before any second choice, so whether an earlier token's second
// choice still fits in an expert's capacity depends on later tokens' first
// choices. top_k with k = 1 places choices in group order, in which a
// sequence's positions come in order, so nothing of a later position
// decides an earlier one. Group position holds one position only and is
// causal under both rules; causal expert choice decides on each member from
// the members before it, and is causal over every group.
func (c *checker) routeLeak(l *Layer, model string) *source.Diagnostic {
	r := &l.Route
	if r.Group != "batch" && r.Group != "sequence" || r.Causal {
		return nil
	}
	switch {
	case r.Rule == "expert_choice":
		return c.errorf(r.GroupPos, RouteLeak,
			"expert choice over group: %s leaks future tokens in causal model %s: each expert's top-k competition spans later positions of the same sequence, so earlier tokens' outputs depend on future tokens; use group: position, or add leak: allow to accept the leak knowingly",
			r.Group, model)
	case r.Rule == "top_k" && r.K >= 2:
		// GroupPos is the rule's position when group takes its default.
		group := "group: " + r.Group
		if r.GroupPos == r.Pos {
			group = "the default group, batch,"
		}
		return c.errorf(r.GroupPos, RouteLeak,
			"top_k with k = %d over %s leaks future tokens in causal model %s: every first choice of a group is placed before any second choice, so whether an earlier token's second choice still fits in an expert's capacity depends on the first choices of later positions of the same sequence; use group: position, or add leak: allow to accept the leak knowingly",
			r.K, group, model)
	}
	return nil
}

// GroupSize returns n, the number of tokens in one routing group when the
// layer runs on batch sequences of seq tokens: batch·seq for group batch,
// seq for sequence, batch for position.
func (r Route) GroupSize(batch, seq int) int {
	switch r.Group {
	case "sequence":
		return seq
	case "position":
		return batch
	}
	return batch * seq
}

// roundEps absorbs the rounding of n·c/E when it is mathematically an
// integer (c = 0.1 and the like), so floor and ceil do not step past it.
// runtime/moe rounds the same way.
const roundEps = 1e-9

// ExpertChoiceK returns k, the number of tokens each expert takes from a
// group of n tokens under expert choice with E = experts: k = floor(n·c/E),
// computed in float64 as floor(float64(n)*c/float64(E) + 1e-9), as
// runtime/moe does. The checker requires k >= 1 at the model's declared
// maxima (and c <= E, so k <= n); fewer tokens at run time give a smaller
// k, and a run whose k is 0 is an error there.
func (r Route) ExpertChoiceK(n, experts int) int {
	return clampInt(math.Floor(float64(n)*r.Capacity/float64(experts) + roundEps))
}

// TopKCapacity returns C, the buffer size of each expert under top_k with
// E = experts for a group of n tokens: C = ceil(k·n·c/E), computed in
// float64 as ceil(float64(k)*float64(n)*c/float64(E) - 1e-9), as runtime/moe
// does. An expert never receives more than n assignments (a token picks an
// expert at most once), so C beyond n drops nothing.
func (r Route) TopKCapacity(n, experts int) int {
	return clampInt(math.Ceil(float64(r.K)*float64(n)*r.Capacity/float64(experts) - roundEps))
}

// clampInt converts a non-negative float to int, saturating.
func clampInt(f float64) int {
	if f >= 1<<62 {
		return 1 << 62
	}
	return int(f)
}
