package check

import (
	"math"
	"strconv"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/bfcdev/bfc/lang/ast"
	"github.com/bfcdev/bfc/lang/parser"
	"github.com/bfcdev/bfc/lang/source"
)

// evaluator evaluates expressions in a scope.
type evaluator struct {
	c     *checker
	scope *scope
	// inst is the block instance being expanded, nil elsewhere. Inside an
	// instance only errors about argument-dependent values are reported
	// (with a note naming the instance); the others were reported when the
	// block's definition was checked on its own.
	inst *instance
	// uses collects the file-level constants the evaluated expressions use
	// (nil: do not collect).
	uses map[*object]bool
}

// instance names a block instance for notes.
type instance struct {
	name      string     // blocks.<i>
	repeatPos source.Pos // the repeat statement that created it
}

// errorf reports a diagnostic about a value; dep says whether the value
// depends on a block's arguments.
func (ev *evaluator) errorf(pos source.Pos, dep bool, code, format string, args ...any) *source.Diagnostic {
	if ev.inst != nil && !dep {
		return nil
	}
	if code == UnknownName && ev.c.incomplete {
		return nil
	}
	d := ev.c.errorf(pos, code, format, args...)
	if ev.inst != nil {
		note(d, source.Pos{}, "in %s (repeat at %s)", ev.inst.name, ev.inst.repeatPos)
	}
	return d
}

// eval evaluates e as a value of type want. what names the receiver in
// messages: an attribute, parameter or constant name.
func (ev *evaluator) eval(e *ast.Expr, want typ, what string) value {
	v := ev.expr(e, want, what)
	return ev.convert(v, want, what, parser.Pos(e.Pos))
}

// convert checks a computed value against the range of its type.
func (ev *evaluator) convert(v value, want typ, what string, pos source.Pos) value {
	if !v.valid() {
		return v
	}
	v.typ = want
	if !v.known {
		return v
	}
	switch want {
	case tDim:
		if v.i <= 0 {
			ev.errorf(pos, v.dep, InvalidSize, "%s must be positive, got %d", what, v.i)
			return invalid
		}
		if v.i > maxSize {
			ev.errorf(pos, v.dep, InvalidSize, "%s is %d; sizes are limited to %d", what, v.i, maxSize)
			return invalid
		}
	case tReal:
		if math.IsInf(v.r, 0) || math.IsNaN(v.r) {
			ev.errorf(pos, v.dep, InvalidValue, "%s is not a finite number", what)
			return invalid
		}
	}
	return v
}

// numeric reports whether values of type want take arithmetic.
func numeric(want typ) bool { c := want.class(); return c == cInt || c == cReal }

func (ev *evaluator) expr(e *ast.Expr, want typ, what string) value {
	v := ev.term(e.Left, want, what)
	for _, op := range e.Ops {
		r := ev.term(op.Right, want, what)
		if !numeric(want) {
			ev.noArith(op.Op, op.Pos, want, what)
			v = invalid
			continue
		}
		v = ev.arith(op.Op, parser.Pos(op.Pos), v, r, e.Pos, op.Pos, op.Right.Pos, op.Right.EndPos)
	}
	return v
}

func (ev *evaluator) term(t *ast.Term, want typ, what string) value {
	v := ev.unary(t.Left, want, what)
	for _, op := range t.Ops {
		r := ev.unary(op.Right, want, what)
		if !numeric(want) {
			ev.noArith(op.Op, op.Pos, want, what)
			v = invalid
			continue
		}
		v = ev.arith(op.Op, parser.Pos(op.Pos), v, r, t.Pos, op.Pos, op.Right.Pos, op.Right.EndPos)
	}
	return v
}

func (ev *evaluator) noArith(op string, pos lexer.Position, want typ, what string) {
	ev.errorf(parser.Pos(pos), false, InvalidAttrType, "cannot use %s here: %s needs %s, not a number", op, what, want.noun())
}

func (ev *evaluator) unary(u *ast.Unary, want typ, what string) value {
	v := ev.primary(u.Primary, want, what)
	if !u.Neg {
		return v
	}
	if !numeric(want) {
		ev.noArith("-", u.Pos, want, what)
		return invalid
	}
	if !v.ok() {
		return v
	}
	switch v.cls {
	case cInt:
		if v.i == math.MinInt64 {
			ev.errorf(parser.Pos(u.Pos), v.dep, InvalidValue, "-%s overflows", ev.c.text(u.Primary.Pos, u.Primary.EndPos))
			return invalid
		}
		v.i = -v.i
	case cReal:
		v.r = -v.r
	}
	v.typ = ""
	return v
}

// arith applies a binary operator. The positions locate the operator and
// the operands' source text for messages.
func (ev *evaluator) arith(op string, pos source.Pos, l, r value, lstart, opPos, rstart, rend lexer.Position) value {
	if !l.valid() || !r.valid() {
		return invalid
	}
	dep := l.dep || r.dep
	res := value{cls: l.cls, dep: dep}
	if l.cls == cReal || r.cls == cReal {
		res.cls = cReal
	}
	if !l.known || !r.known {
		return res
	}
	res.known = true
	lt := func() string { return ev.c.text(lstart, opPos) }
	rt := func() string { return ev.c.text(rstart, rend) }
	if res.cls == cReal {
		a, b := l.r, r.r
		if l.cls == cInt {
			a = float64(l.i)
		}
		if r.cls == cInt {
			b = float64(r.i)
		}
		switch op {
		case "+":
			res.r = a + b
		case "-":
			res.r = a - b
		case "*":
			res.r = a * b
		case "/":
			if b == 0 {
				ev.errorf(pos, dep, InvalidValue, "%s / %s: division by zero", lt(), rt())
				return invalid
			}
			res.r = a / b
		case "%":
			ev.errorf(pos, false, InvalidAttrType, "%s %% %s: %% needs ints, not reals", lt(), rt())
			return invalid
		}
		if math.IsInf(res.r, 0) || math.IsNaN(res.r) {
			ev.errorf(pos, dep, InvalidValue, "%s %s %s is not a finite number", lt(), op, rt())
			return invalid
		}
		return res
	}
	a, b := l.i, r.i
	var ok bool
	switch op {
	case "+":
		res.i = a + b
		ok = (b >= 0) == (res.i >= a)
	case "-":
		res.i = a - b
		ok = (b >= 0) == (res.i <= a)
	case "*":
		res.i = a * b
		ok = a == 0 || (res.i/a == b && !(a == -1 && b == math.MinInt64) && !(b == -1 && a == math.MinInt64))
	case "/", "%":
		if b == 0 {
			ev.errorf(pos, dep, InvalidDim, "%s %s %s: division by zero", lt(), op, rt())
			return invalid
		}
		if a == math.MinInt64 && b == -1 {
			ok = false
			break
		}
		if op == "%" {
			res.i, ok = a%b, true
			break
		}
		if a%b != 0 {
			ev.errorf(pos, dep, InvalidDim, "%s / %s: %d is not divisible by %d", lt(), rt(), a, b)
			return invalid
		}
		res.i, ok = a/b, true
	}
	if !ok {
		ev.errorf(pos, dep, InvalidValue, "%s %s %s overflows", lt(), op, rt())
		return invalid
	}
	return res
}

func (ev *evaluator) primary(p *ast.Primary, want typ, what string) value {
	pos := parser.Pos(p.Pos)
	wrong := func(v value, text string) value {
		ev.errorf(pos, false, InvalidAttrType, "%s is %s; %s needs %s", text, v.noun(), what, want.noun())
		return invalid
	}
	switch {
	case p.Int != nil:
		i, err := strconv.ParseInt(*p.Int, 10, 64)
		if err != nil {
			ev.errorf(pos, false, InvalidValue, "integer %s is too large", *p.Int)
			return invalid
		}
		v := intVal(i)
		switch want.class() {
		case cReal:
			return realVal(float64(i))
		case cInt:
			return v
		}
		return wrong(v, *p.Int)
	case p.Real != nil:
		r, err := strconv.ParseFloat(*p.Real, 64)
		if err != nil || math.IsInf(r, 0) {
			ev.errorf(pos, false, InvalidValue, "number %s is out of range", *p.Real)
			return invalid
		}
		if want.class() != cReal {
			return wrong(realVal(r), *p.Real)
		}
		return realVal(r)
	case p.Bool != nil:
		v := boolVal(*p.Bool == "true")
		if want.class() != cBool {
			return wrong(v, *p.Bool)
		}
		return v
	case p.Ident != nil:
		return ev.ident(p.Ident, want, what)
	case p.Call != nil:
		name := p.Call.Func.Name
		switch {
		case want == tRoute:
			return ev.routeRule(p.Call)
		case routeRules[name] != nil:
			ev.errorf(pos, false, InvalidAttrType, "cannot use routing rule %s here: %s needs %s; a routing rule is the route of a moe layer", name, what, want.noun())
		default:
			ev.errorf(pos, false, InvalidAttrType, "cannot call %s here: %s needs %s", name, what, want.noun())
		}
		return invalid
	case p.Paren != nil:
		return ev.expr(p.Paren, want, what)
	case p.List != nil:
		// A search declaration takes the elements of a list that is the
		// whole value of a choice one at a time; any other list is an error.
		if ev.c.inSearch(p.List.Pos) {
			ev.errorf(pos, false, InvalidValue, "a list of choices must stand alone as the value of a choice; here %s needs %s", what, want.noun())
		} else {
			ev.errorf(pos, false, InvalidValue, listOutsideSearch)
		}
		return invalid
	}
	return invalid
}

// listOutsideSearch is the message for a list of choices outside a search
// declaration.
const listOutsideSearch = "a list of choices is only allowed in a search declaration"

// listsOutsideSearch reports each outermost list of d, a declaration other
// than a search declaration, at its "[": whether or not the list's value is
// ever computed.
func (c *checker) listsOutsideSearch(d *ast.Decl) {
	ast.Inspect(d, func(n any) bool {
		if l, ok := n.(*ast.List); ok {
			c.errorf(parser.Pos(l.Pos), InvalidValue, listOutsideSearch)
			return false
		}
		return true
	})
}

// inSearch reports whether pos lies inside a search declaration.
func (c *checker) inSearch(pos lexer.Position) bool {
	for _, f := range c.order {
		if f.ast.Name != pos.Filename {
			continue
		}
		for _, d := range f.ast.Decls {
			if d.Search != nil && d.Pos.Offset <= pos.Offset && pos.Offset < d.EndPos.Offset {
				return true
			}
		}
	}
	return false
}

// ident resolves a name: declared names first (innermost scope out), then
// the words of want's type.
func (ev *evaluator) ident(id *ast.Ident, want typ, what string) value {
	pos := parser.Pos(id.Pos)
	name := id.Name
	obj := ev.scope.lookup(name)
	if obj != nil && want.isWordType() && isWord(want, name) && obj.typ != want {
		// A constant or parameter of another type does not hide a word
		// where only a word fits: int batch = 8 leaves group: batch alone.
		obj = nil
	}
	if obj != nil {
		switch obj.kind {
		case blockObj, modelObj, searchObj:
			ev.errorf(pos, false, UnknownName, "%s is a %s, not a value; %s needs %s", name, obj.kind, what, want.noun())
			return invalid
		}
		v := ev.objValue(obj, pos)
		if !v.valid() {
			return invalid
		}
		return ev.assignable(v, name, want, what, pos)
	}
	if want.isWordType() {
		if isWord(want, name) {
			v := wordVal(name)
			v.typ = want
			return v
		}
		if t, ok := wordType(name); ok {
			ev.errorf(pos, false, InvalidValue, "%s is %s; %s needs %s: %s", name, t.noun(), what, want.noun(), oneOf(words[want]))
			return invalid
		}
		ev.errorf(pos, false, InvalidValue, "unknown %s %s%s; want %s",
			strings.TrimPrefix(strings.TrimPrefix(want.noun(), "an "), "a "), name, didYouMean(name, words[want]), oneOf(words[want]))
		return invalid
	}
	if want == tRoute {
		return ev.bareRule(pos, name)
	}
	if t, ok := wordType(name); ok {
		ev.errorf(pos, false, InvalidAttrType, "%s is %s; %s needs %s", name, t.noun(), what, want.noun())
		return invalid
	}
	ev.errorf(pos, false, UnknownName, "unknown name %s%s", name, didYouMean(name, ev.scope.valueNames()))
	return invalid
}

// objValue returns the value of a constant or parameter, computing it on
// first use, and records uses of file-level constants.
func (ev *evaluator) objValue(obj *object, pos source.Pos) value {
	if obj.kind == paramObj {
		return obj.val
	}
	ev.c.resolveConst(obj, pos)
	if ev.uses != nil && obj.global {
		ev.uses[obj] = true
		for d := range obj.deps {
			ev.uses[d] = true
		}
	}
	return obj.val
}

// assignable checks that a declared value (constant or parameter) fits
// type want, promoting ints to reals.
func (ev *evaluator) assignable(v value, name string, want typ, what string, pos source.Pos) value {
	ok := false
	switch want.class() {
	case cInt:
		ok = v.cls == cInt
	case cReal:
		if v.cls == cInt {
			v.cls, v.r = cReal, float64(v.i)
			v.typ = ""
		}
		ok = v.cls == cReal
	case cBool:
		ok = v.cls == cBool
	case cWord:
		ok = v.cls == cWord && v.typ == want
	}
	if !ok {
		ev.errorf(pos, false, InvalidAttrType, "%s is %s; %s needs %s", name, v.noun(), what, want.noun())
		return invalid
	}
	return v
}

// text returns the source text between two positions of one file, for
// messages; "" if unavailable.
func (c *checker) text(start, end lexer.Position) string {
	src := c.srcs[start.Filename]
	if start.Offset < 0 || end.Offset > len(src) || start.Offset > end.Offset {
		return ""
	}
	return strings.Join(strings.Fields(string(src[start.Offset:end.Offset])), " ")
}
