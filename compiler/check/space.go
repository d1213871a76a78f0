package check

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/bfcdev/bfc/lang/ast"
	"github.com/bfcdev/bfc/lang/parser"
	"github.com/bfcdev/bfc/lang/source"
)

// Space is a checked search space (a search declaration): the baseline
// model whose input, embedding, final norm, head and loss every candidate
// keeps, and the alternatives of everything a candidate may choose. What
// the declaration does not name is fixed to the baseline's value.
type Space struct {
	Name string
	Pos  source.Pos
	File string // the file that declares it

	Baseline *Model
	// BaselineBlocks is the number of block instances of the baseline and
	// BaselineLayers the sub-layers of its first (all instances have the
	// same kinds in the same order).
	BaselineBlocks int
	BaselineLayers []*Layer

	Blocks         []int    // numbers of stacked blocks
	MinSub, MaxSub int      // sub-layers per block
	Kinds          []string // "attention", "ffn", "moe"
	D              []int    // model widths
	PerLayer       bool     // each sub-layer may override the block-level attribute values

	// Attrs holds the alternatives of each attribute, keyed kind.attr
	// ("attention.heads", "attention.head_dim", "ffn.hidden", "ffn.act",
	// "moe.experts", "moe.hidden", "moe.act", "moe.route") as .bf text, in
	// the order written; "" for attention.head_dim means width / heads.
	Attrs map[string][]string
	// Given records the attributes the declaration names (the others come
	// from the baseline) and AttrPos where.
	Given   map[string]bool
	AttrPos map[string]source.Pos

	// Norm, Placement, Eps and Residual wrap every sub-layer: the
	// baseline's first sub-layer's.
	Norm, Placement string
	Eps             float64
}

// SpaceKeys lists the attribute keys of a Space, in a fixed order.
var SpaceKeys = []string{
	"attention.heads", "attention.head_dim",
	"ffn.hidden", "ffn.act",
	"moe.experts", "moe.hidden", "moe.act", "moe.route",
}

// spaceAttrs are the choices each primitive statement of a search takes.
var spaceAttrs = map[string][]attrSpec{
	"attention": {{name: "heads", typ: tInt}, {name: "head_dim", typ: tDim}},
	"ffn":       {{name: "hidden", typ: tDim}, {name: "act", typ: tAct}},
	"moe":       {{name: "experts", typ: tInt}, {name: "hidden", typ: tDim}, {name: "act", typ: tAct}, {name: "route", typ: tRoute}},
}

// spaceChoices are the space-wide statements name: choice.
var spaceChoices = []string{"blocks", "sublayers", "kinds", "d", "act", "per_layer"}

// Spaces checks the search declarations of the root files.
func (c *checker) spaces() []*Space {
	var out []*Space
	for _, f := range c.files {
		if !f.root || f.ast == nil {
			continue
		}
		for _, d := range f.ast.Decls {
			if d.Search != nil {
				if s := c.space(f, d.Search); s != nil {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// space checks one search declaration; it returns nil when the space has
// errors.
func (c *checker) space(f *file, sd *ast.Search) *Space {
	n0 := len(c.diags)
	s := &Space{
		Name: sd.Name.Name, Pos: parser.Pos(sd.Name.Pos), File: f.ast.Name, PerLayer: true,
		Attrs: map[string][]string{}, Given: map[string]bool{}, AttrPos: map[string]source.Pos{},
	}
	ev := &evaluator{c: c, scope: c.global}
	seen := map[string]source.Pos{}
	dup := func(key string, pos source.Pos, what string) bool {
		if prev, ok := seen[key]; ok {
			d := c.errorf(pos, DuplicateDecl, "%s given twice in search %s; keep one", what, s.Name)
			note(d, prev, "other %s", what)
			return true
		}
		seen[key] = pos
		return false
	}
	var baseline *ast.Ident
	var kindsPos source.Pos
	stmtPos := map[string]source.Pos{}
	kindStmt := map[string]source.Pos{}
	var blocks, sub []int
	var dims []int
	var kinds []string
	var acts []string
	for _, st := range sd.Body {
		switch {
		case st.Baseline != nil:
			if dup("baseline", parser.Pos(st.Baseline.Pos), "baseline") {
				continue
			}
			baseline = st.Baseline
		case st.Choice != nil:
			a := st.Choice
			name, pos := a.Name.Name, parser.Pos(a.Name.Pos)
			if !slices.Contains(spaceChoices, name) {
				hint := ""
				if spaceAttrs[name] == nil {
					for k, specs := range spaceAttrs {
						for _, sp := range specs {
							if sp.name == name {
								hint = fmt.Sprintf("; %s is an attribute of %s: write %s(%s: ...)", name, k, k, name)
							}
						}
					}
				}
				c.errorf(pos, UnknownAttr, "unknown choice %s in search %s%s; valid: %s%s", name, s.Name,
					didYouMean(name, spaceChoices), strings.Join(spaceChoices, ", "), hint)
				continue
			}
			if dup(name, pos, name) {
				continue
			}
			stmtPos[name] = pos
			switch name {
			case "blocks":
				blocks = c.intChoice(ev, a.Value, "blocks", 1, maxInstances)
			case "sublayers":
				sub = c.intChoice(ev, a.Value, "sublayers", 1, 1<<10)
			case "d":
				dims = c.intChoice(ev, a.Value, "d", 1, maxSize)
			case "kinds":
				kindsPos = pos
				kinds = c.kindChoice(a.Value)
			case "act":
				acts = c.textChoice(ev, a.Value, tAct, "act")
			case "per_layer":
				v := ev.eval(a.Value, tBool, "per_layer")
				if v.ok() {
					s.PerLayer = v.b
				}
			}
		case st.Kind != nil:
			call := st.Kind
			kind, pos := call.Func.Name, parser.Pos(call.Func.Pos)
			specs := spaceAttrs[kind]
			if specs == nil {
				c.errorf(pos, UnknownName, "unknown statement %s in search %s%s; a search has baseline MODEL, choices (%s) and primitive choices attention(...), ffn(...), moe(...)",
					kind, s.Name, didYouMean(kind, primitiveNames()), strings.Join(spaceChoices, ", "))
				continue
			}
			if dup(kind+"()", pos, kind+"(...)") {
				continue
			}
			kindStmt[kind] = pos
			for _, arg := range call.Args {
				an, apos := arg.Name.Name, parser.Pos(arg.Name.Pos)
				var spec *attrSpec
				var names []string
				for i := range specs {
					names = append(names, specs[i].name)
					if specs[i].name == an {
						spec = &specs[i]
					}
				}
				if spec == nil {
					c.errorf(apos, UnknownAttr, "unknown attribute %s for %s in a search%s; valid: %s", an, kind, didYouMean(an, names), strings.Join(names, ", "))
					continue
				}
				key := kind + "." + an
				if dup(key, apos, "attribute "+an+" of "+kind) {
					continue
				}
				s.Given[key] = true
				s.AttrPos[key] = apos
				var alts []string
				switch {
				case spec.typ == tRoute:
					alts = c.routeChoice(ev, arg.Value)
				case an == "heads" || an == "experts":
					for _, i := range c.intChoice(ev, arg.Value, an, 1, maxSize) {
						alts = append(alts, strconv.Itoa(i))
					}
				default:
					alts = c.textChoice(ev, arg.Value, spec.typ, an)
				}
				s.Attrs[key] = alts
			}
		}
	}
	if baseline == nil {
		c.errorf(s.Pos, MissingStmt, "search %s names no baseline; add baseline MODEL, the model whose input, embedding, head and loss every candidate keeps", s.Name)
		return nil
	}
	obj := c.global.lookup(baseline.Name)
	bpos := parser.Pos(baseline.Pos)
	if obj == nil || obj.kind != modelObj || obj.model == nil {
		if obj == nil {
			c.unknownName(bpos, "unknown model %s as the baseline of search %s%s", baseline.Name, s.Name, didYouMean(baseline.Name, c.global.namesOf(modelObj)))
		} else {
			c.errorf(bpos, InvalidAttrType, "baseline %s is a %s; the baseline of a search is a model", baseline.Name, obj.kind)
		}
		return nil
	}
	n1 := len(c.diags)
	m := c.model(obj.model)
	if len(c.diags) > n1 || len(m.Layers) == 0 {
		if len(m.Layers) == 0 && len(c.diags) == n1 {
			c.errorf(bpos, InvalidValue, "baseline %s has no sub-layers to search around", baseline.Name)
		}
		return nil
	}
	s.Baseline = m
	if !c.baselineBlock(s, bpos) {
		return nil
	}
	if len(c.diags) > n0 {
		return nil
	}

	// Fill in what the declaration does not name from the baseline.
	if blocks == nil {
		blocks = []int{s.BaselineBlocks}
	}
	s.Blocks = blocks
	if sub == nil {
		sub = []int{len(s.BaselineLayers)}
	}
	s.MinSub, s.MaxSub = slices.Min(sub), slices.Max(sub)
	if dims == nil {
		dims = []int{m.D}
	}
	s.D = dims
	if kinds == nil {
		for _, l := range s.BaselineLayers {
			if !slices.Contains(kinds, l.Kind) {
				kinds = append(kinds, l.Kind)
			}
		}
		kindsPos = s.Pos
	}
	s.Kinds = kinds
	for kind, pos := range kindStmt {
		if !slices.Contains(kinds, kind) {
			c.errorf(pos, InvalidValue, "search %s gives choices for %s, but its kinds (%s) leave %s out; add it to kinds or remove this statement", s.Name, kind, strings.Join(kinds, ", "), kind)
		}
	}
	first := map[string]*Layer{}
	for _, l := range s.BaselineLayers {
		if first[l.Kind] == nil {
			first[l.Kind] = l
		}
	}
	if acts != nil {
		for _, key := range []string{"ffn.act", "moe.act"} {
			if !s.Given[key] {
				s.Attrs[key] = acts
				s.Given[key] = true
				s.AttrPos[key] = stmtPos["act"]
			}
		}
	}
	for _, key := range SpaceKeys {
		if s.Attrs[key] != nil {
			continue
		}
		kind, attr, _ := strings.Cut(key, ".")
		l := first[kind]
		if l == nil {
			if !slices.Contains(kinds, kind) {
				// No candidate has such a sub-layer.
				s.Attrs[key] = []string{""}
				continue
			}
			{
				switch key {
				case "attention.head_dim":
					s.Attrs[key] = []string{""}
					continue
				case "ffn.act", "moe.act":
					s.Attrs[key] = []string{"gelu"}
					continue
				}
				c.errorf(kindsPos, MissingAttr, "search %s allows %s sub-layers, but baseline %s has none to take %s from; add %s(%s: ...) to the search",
					s.Name, kind, m.Name, attr, kind, attr)
			}
			continue
		}
		var v string
		switch key {
		case "attention.heads":
			v = strconv.Itoa(l.Heads)
		case "attention.head_dim":
			if l.HeadDim*l.Heads != l.In {
				v = strconv.Itoa(l.HeadDim)
			}
		case "ffn.hidden", "moe.hidden":
			v = strconv.Itoa(l.Hidden)
		case "ffn.act", "moe.act":
			v = l.Act
		case "moe.experts":
			v = strconv.Itoa(l.Experts)
		case "moe.route":
			v = l.Route.Text()
		}
		s.Attrs[key] = []string{v}
	}
	if len(c.diags) > n0 {
		return nil
	}
	c.spaceFeasible(s)
	if len(c.diags) > n0 {
		return nil
	}
	return s
}

// baselineBlock finds the block the baseline stacks: every instance must
// have the same kinds in the same order.
func (c *checker) baselineBlock(s *Space, pos source.Pos) bool {
	m := s.Baseline
	byInst := map[int][]*Layer{}
	var order []int
	for _, l := range m.Layers {
		if byInst[l.Instance] == nil {
			order = append(order, l.Instance)
		}
		byInst[l.Instance] = append(byInst[l.Instance], l)
	}
	firstLayers := byInst[order[0]]
	for _, i := range order[1:] {
		ls := byInst[i]
		same := len(ls) == len(firstLayers)
		for j := 0; same && j < len(ls); j++ {
			same = ls[j].Kind == firstLayers[j].Kind
		}
		if !same {
			c.errorf(pos, InvalidValue, "baseline %s stacks blocks of different kinds (blocks.%d is %s, blocks.%d is %s); a search varies one block stacked several times: use a baseline of repeat N Block(...)",
				m.Name, order[0], kindList(firstLayers), i, kindList(ls))
			return false
		}
	}
	for _, l := range m.Layers {
		if !l.Residual || l.Out != l.In {
			c.errorf(pos, InvalidValue, "baseline %s: sub-layer %s is not a residual branch of the stream's width; a search needs a baseline whose sub-layers all keep the width", m.Name, l.Name)
			return false
		}
	}
	s.BaselineBlocks = len(order)
	s.BaselineLayers = firstLayers
	l := firstLayers[0]
	s.Norm, s.Placement, s.Eps = l.Norm, l.Placement, l.Eps
	return true
}

func kindList(ls []*Layer) string {
	var k []string
	for _, l := range ls {
		k = append(k, l.Kind)
	}
	return strings.Join(k, ", ")
}

// alternatives returns the expressions of a choice: a list's elements, or
// the value itself. An empty list is an error.
func (c *checker) alternatives(e *ast.Expr, what string) []*ast.Expr {
	if l := listOf(e); l != nil {
		if len(l.Elems) == 0 {
			c.errorf(parser.Pos(l.Pos), InvalidValue, "empty choice for %s: list at least one value, as in [a, b]", what)
		}
		return l.Elems
	}
	return []*ast.Expr{e}
}

// listOf returns e's list when e is a bare list.
func listOf(e *ast.Expr) *ast.List {
	if e == nil || len(e.Ops) > 0 || len(e.Left.Ops) > 0 || e.Left.Left.Neg {
		return nil
	}
	return e.Left.Left.Primary.List
}

// callOf returns e's call when e is a bare call.
func callOf(e *ast.Expr) *ast.Call {
	if e == nil || len(e.Ops) > 0 || len(e.Left.Ops) > 0 || e.Left.Left.Neg {
		return nil
	}
	return e.Left.Left.Primary.Call
}

// intChoice evaluates a choice of integers in [lo, hi]: a list, a single
// value or range(min: a, max: b).
func (c *checker) intChoice(ev *evaluator, e *ast.Expr, what string, lo, hi int) []int {
	t := tInt
	if what == "d" {
		t = tDim
	}
	if call := callOf(e); call != nil && call.Func.Name == "range" {
		b := c.bindArgs(ev, call, []attrSpec{{name: "min", typ: t, required: true, example: "1"}, {name: "max", typ: t, required: true, example: "4"}}, "attribute", "range")
		mn, mx := b.vals["min"], b.vals["max"]
		if !mn.ok() || !mx.ok() {
			return nil
		}
		if mn.i > mx.i {
			c.errorf(parser.Pos(call.Func.Pos), InvalidValue, "empty range for %s: min %d is above max %d", what, mn.i, mx.i)
			return nil
		}
		if mn.i < int64(lo) || mx.i > int64(hi) {
			c.errorf(parser.Pos(call.Func.Pos), InvalidSize, "%s must be between %d and %d, got range(min: %d, max: %d)", what, lo, hi, mn.i, mx.i)
			return nil
		}
		var out []int
		for i := mn.i; i <= mx.i; i++ {
			out = append(out, int(i))
		}
		return out
	}
	var out []int
	for _, x := range c.alternatives(e, what) {
		v := ev.eval(x, t, what)
		if !v.ok() {
			continue
		}
		if v.i < int64(lo) || v.i > int64(hi) {
			c.errorf(parser.Pos(x.Pos), InvalidSize, "%s must be between %d and %d, got %d", what, lo, hi, v.i)
			continue
		}
		if slices.Contains(out, int(v.i)) {
			c.errorf(parser.Pos(x.Pos), DuplicateDecl, "%s %d listed twice", what, v.i)
			continue
		}
		out = append(out, int(v.i))
	}
	return out
}

// textChoice evaluates a choice of values of type t as .bf text.
func (c *checker) textChoice(ev *evaluator, e *ast.Expr, t typ, what string) []string {
	if call := callOf(e); call != nil && call.Func.Name == "range" {
		c.errorf(parser.Pos(call.Func.Pos), InvalidAttrType, "%s takes a list of values, not a range", what)
		return nil
	}
	var out []string
	for _, x := range c.alternatives(e, what) {
		v := ev.eval(x, t, what)
		if !v.ok() {
			continue
		}
		s := v.String()
		if slices.Contains(out, s) {
			c.errorf(parser.Pos(x.Pos), DuplicateDecl, "%s %s listed twice", what, s)
			continue
		}
		out = append(out, s)
	}
	return out
}

// kindChoice reads the list of sub-layer kinds.
func (c *checker) kindChoice(e *ast.Expr) []string {
	var out []string
	for _, x := range c.alternatives(e, "kinds") {
		var id *ast.Ident
		if x != nil && len(x.Ops) == 0 && len(x.Left.Ops) == 0 && !x.Left.Left.Neg {
			id = x.Left.Left.Primary.Ident
		}
		if id == nil || primitives[id.Name] == nil {
			name := c.text(x.Pos, x.EndPos)
			c.errorf(parser.Pos(x.Pos), InvalidValue, "kinds lists sub-layer kinds; %s is not one%s (want attention, ffn or moe)", name, didYouMean(name, primitiveNames()))
			continue
		}
		if slices.Contains(out, id.Name) {
			c.errorf(parser.Pos(x.Pos), DuplicateDecl, "kind %s listed twice", id.Name)
			continue
		}
		out = append(out, id.Name)
	}
	return out
}

// routeChoice expands a choice of routing rules, whose attributes may be
// lists themselves, into every combination, each checked as a rule.
func (c *checker) routeChoice(ev *evaluator, e *ast.Expr) []string {
	var out []string
	for _, x := range c.alternatives(e, "route") {
		call := callOf(x)
		if call == nil {
			ev.eval(x, tRoute, "route")
			continue
		}
		// Each argument's alternatives.
		var opts [][]*ast.Expr
		for _, a := range call.Args {
			opts = append(opts, c.alternatives(a.Value, a.Name.Name))
		}
		idx := make([]int, len(opts))
		for {
			cc := *call
			cc.Args = make([]*ast.Arg, len(call.Args))
			for i, a := range call.Args {
				na := *a
				if len(opts[i]) > 0 {
					na.Value = opts[i][idx[i]]
				}
				cc.Args[i] = &na
			}
			v := ev.routeRule(&cc)
			if v.ok() {
				if r := v.rt.route(); r != nil {
					t := r.Text()
					if !slices.Contains(out, t) {
						out = append(out, t)
					}
				}
			}
			// Next combination.
			i := 0
			for ; i < len(idx); i++ {
				idx[i]++
				if idx[i] < len(opts[i]) {
					break
				}
				idx[i] = 0
			}
			if i == len(idx) {
				break
			}
		}
	}
	return out
}

// route converts an evaluated rule to a Route; nil if an attribute failed.
func (r *routeVal) route() *Route {
	out := &Route{Rule: r.rule, Pos: r.pos}
	if !r.capacity.ok() || !r.group.ok() || !r.zloss.ok() {
		return nil
	}
	out.Capacity, out.Group, out.ZWeight = r.capacity.r, r.group.w, r.zloss.r
	out.AllowLeak = r.leak.ok() && r.leak.w == "allow"
	out.Fill = r.fill.ok() && r.fill.w == "top1"
	out.Causal = r.causal.ok() && r.causal.b
	if r.rule == "top_k" {
		if !r.k.ok() || !r.aux.ok() {
			return nil
		}
		out.K, out.AuxWeight = int(r.k.i), r.aux.r
		if r.drop.ok() {
			out.Drop = r.drop.w
		}
	}
	return out
}

// Text is the rule written in .bf, every attribute that matters given.
func (r Route) Text() string {
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	var b strings.Builder
	b.WriteString(r.Rule + "(")
	if r.Rule == "top_k" {
		fmt.Fprintf(&b, "k: %d, ", r.K)
	}
	fmt.Fprintf(&b, "capacity: %s, group: %s", f(r.Capacity), r.Group)
	if r.Rule == "top_k" {
		fmt.Fprintf(&b, ", aux: %s", f(r.AuxWeight))
	}
	if r.ZWeight != 0 {
		fmt.Fprintf(&b, ", zloss: %s", f(r.ZWeight))
	}
	if r.Fill {
		b.WriteString(", fill: top1")
	}
	if r.Causal {
		b.WriteString(", causal: true")
	}
	if r.AllowLeak {
		b.WriteString(", leak: allow")
	}
	b.WriteString(")")
	return b.String()
}

// spaceFeasible reports spaces in which no candidate can pass for a reason
// visible without building candidates: attention widths that no d divides
// into, and moe layers whose every routing rule gives an expert no token.
func (c *checker) spaceFeasible(s *Space) {
	m := s.Baseline
	if slices.Contains(s.Kinds, "attention") && slices.Contains(s.Attrs["attention.head_dim"], "") {
		ok := false
		for _, d := range s.D {
			for _, h := range s.Attrs["attention.heads"] {
				hi, _ := strconv.Atoi(h)
				ok = ok || hi > 0 && d%hi == 0
			}
		}
		if !ok {
			pos := s.AttrPos["attention.heads"]
			if !pos.IsValid() {
				pos = s.Pos
			}
			c.errorf(pos, EmptySpace, "no candidate of search %s can have attention: no d in [%s] divides by any heads in [%s], and head_dim defaults to d / heads; change d or heads, or give attention(head_dim: ...)",
				s.Name, joinInts(s.D), strings.Join(s.Attrs["attention.heads"], ", "))
		}
	}
	if slices.Contains(s.Kinds, "moe") {
		ok := false
		var why []string
		for _, rt := range s.Attrs["moe.route"] {
			r, err := parseRouteText(rt)
			if err != nil {
				continue
			}
			for _, e := range s.Attrs["moe.experts"] {
				ei, _ := strconv.Atoi(e)
				n := r.GroupSize(m.MaxBatch, m.MaxSeq)
				switch {
				case r.Rule == "expert_choice" && r.ExpertChoiceK(n, ei) < 1:
					why = append(why, fmt.Sprintf("%s with %d experts takes floor(%d·%g/%d) = 0 tokens per expert", rt, ei, n, r.Capacity, ei))
				case r.Rule == "top_k" && r.K > ei:
					why = append(why, fmt.Sprintf("%s picks %d of only %d experts", rt, r.K, ei))
				default:
					ok = true
				}
			}
		}
		if !ok {
			pos := s.AttrPos["moe.route"]
			if !pos.IsValid() {
				pos = s.Pos
			}
			d := c.errorf(pos, EmptySpace, "no moe layer of search %s can route: every routing rule fails at baseline %s's input(batch: %d, seq: %d); raise capacity, lower experts or allow top_k", s.Name, m.Name, m.MaxBatch, m.MaxSeq)
			for i, w := range why {
				if i == 4 {
					note(d, source.Pos{}, "and %d more", len(why)-4)
					break
				}
				note(d, source.Pos{}, "%s", w)
			}
		}
	}
}

func joinInts(xs []int) string {
	var s []string
	for _, x := range xs {
		s = append(s, strconv.Itoa(x))
	}
	return strings.Join(s, ", ")
}

// parseRouteText reads back a rule written by Route.Text.
func parseRouteText(text string) (Route, error) {
	var r Route
	rule, rest, ok := strings.Cut(text, "(")
	if !ok || !strings.HasSuffix(rest, ")") {
		return r, fmt.Errorf("bad rule %q", text)
	}
	r.Rule = rule
	for _, kv := range strings.Split(strings.TrimSuffix(rest, ")"), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), ":")
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "k":
			r.K, _ = strconv.Atoi(v)
		case "capacity":
			r.Capacity, _ = strconv.ParseFloat(v, 64)
		case "group":
			r.Group = v
		case "aux":
			r.AuxWeight, _ = strconv.ParseFloat(v, 64)
		case "zloss":
			r.ZWeight, _ = strconv.ParseFloat(v, 64)
		case "leak":
			r.AllowLeak = v == "allow"
		case "fill":
			r.Fill = v == "top1"
		case "causal":
			r.Causal = v == "true"
		}
	}
	return r, nil
}
