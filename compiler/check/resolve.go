package check

import (
	"github.com/bfcdev/bfc/lang/ast"
	"github.com/bfcdev/bfc/lang/parser"
	"github.com/bfcdev/bfc/lang/source"
)

// objKind says what a name declares.
type objKind uint8

const (
	constObj objKind = iota
	paramObj
	blockObj
	modelObj
	searchObj
)

func (k objKind) String() string {
	switch k {
	case constObj:
		return "constant"
	case paramObj:
		return "parameter"
	case blockObj:
		return "block"
	case searchObj:
		return "search"
	}
	return "model"
}

// object is a declared name.
type object struct {
	kind objKind
	name string
	pos  source.Pos // the name in its declaration
	file *file

	// constants and parameters
	typ    typ
	decl   *ast.Const // constants
	scope  *scope     // where decl.Value is evaluated
	state  evalState
	cyclic bool // the value was found to depend on itself
	val    value
	global bool             // a file-level constant
	deps   map[*object]bool // file-level constants the value uses, transitively
	index  int              // declaration order among file-level constants
	block  *blockDef        // blocks
	model  *ast.Model       // models
	search *ast.Search      // search declarations
}

type evalState uint8

const (
	unresolved evalState = iota
	resolving
	resolved
)

// scope maps names to objects. Lookups continue in the parent; the global
// scope's parent is nil and the words of the universe come after it.
type scope struct {
	parent *scope
	objs   map[string]*object
	order  []*object
	ev     *evaluator // evaluates the constants declared in this scope
}

func newScope(parent *scope) *scope {
	return &scope{parent: parent, objs: map[string]*object{}}
}

// insert declares obj; on a conflict it returns the earlier object and
// declares nothing.
func (s *scope) insert(obj *object) *object {
	if prev := s.objs[obj.name]; prev != nil {
		return prev
	}
	s.objs[obj.name] = obj
	s.order = append(s.order, obj)
	return nil
}

func (s *scope) lookup(name string) *object {
	for ; s != nil; s = s.parent {
		if obj := s.objs[name]; obj != nil {
			return obj
		}
	}
	return nil
}

// valueNames lists the constants and parameters visible from s, for
// suggestions.
func (s *scope) valueNames() []string {
	var out []string
	for ; s != nil; s = s.parent {
		for _, obj := range s.order {
			if obj.kind == constObj || obj.kind == paramObj {
				out = append(out, obj.name)
			}
		}
	}
	return out
}

// namesOf lists the names of s's own objects of kind k.
func (s *scope) namesOf(k objKind) []string {
	var out []string
	for _, obj := range s.order {
		if obj.kind == k {
			out = append(out, obj.name)
		}
	}
	return out
}

// collectObjects declares the file-level constants, blocks, models and
// search declarations of every parsed file in one namespace, imports before
// importers, so a clash is reported at the declaration in the importing
// file. It also reports every list of choices outside a search declaration.
func (c *checker) collectObjects() {
	c.global = newScope(nil)
	c.global.ev = &evaluator{c: c, scope: c.global}
	n := 0
	for _, f := range c.order {
		for _, d := range f.ast.Decls {
			if d.Search == nil {
				c.listsOutsideSearch(d)
			}
			var obj *object
			switch {
			case d.Const != nil:
				obj = &object{kind: constObj, name: d.Const.Name.Name, pos: parser.Pos(d.Const.Name.Pos),
					typ: typ(d.Const.Type), decl: d.Const, scope: c.global, global: true, index: n}
				n++
			case d.Block != nil:
				def := c.newBlockDef(f, d.Block)
				obj = &object{kind: blockObj, name: d.Block.Name.Name, pos: parser.Pos(d.Block.Name.Pos), block: def}
			case d.Model != nil:
				obj = &object{kind: modelObj, name: d.Model.Name.Name, pos: parser.Pos(d.Model.Name.Pos), model: d.Model}
			case d.Search != nil:
				obj = &object{kind: searchObj, name: d.Search.Name.Name, pos: parser.Pos(d.Search.Name.Pos), search: d.Search}
			default:
				continue
			}
			obj.file = f
			if prev := c.global.insert(obj); prev != nil {
				c.redeclared(obj, prev)
			}
		}
	}
}

// redeclared reports obj as a second declaration of prev's name.
func (c *checker) redeclared(obj, prev *object) {
	d := c.errorf(obj.pos, DuplicateDecl, "%s %s redeclared; rename one of them", obj.kind, obj.name)
	note(d, prev.pos, "other declaration of %s", obj.name)
}

// globalConsts evaluates every file-level constant once, in declaration
// order (a constant may use one declared later).
func (c *checker) globalConsts() {
	for _, f := range c.order {
		for _, d := range f.ast.Decls {
			if d.Const == nil {
				continue
			}
			if obj := c.global.objs[d.Const.Name.Name]; obj != nil && obj.decl == d.Const {
				c.resolveConst(obj, obj.pos)
			} else {
				// A redeclared constant: still check its value.
				dup := &object{kind: constObj, name: d.Const.Name.Name, typ: typ(d.Const.Type), decl: d.Const, scope: c.global, global: true}
				c.resolveConst(dup, dup.pos)
			}
		}
	}
}

// resolveConst computes obj's value once. usePos is where the value is
// needed, for reporting a constant defined in terms of itself.
func (c *checker) resolveConst(obj *object, usePos source.Pos) {
	switch obj.state {
	case resolved:
		return
	case resolving:
		// A cycle: report it at the declaration; the value is invalid, so
		// nothing computed from it is reported again.
		d := obj.scope.ev.errorf(obj.pos, false, InvalidValue, "constant %s is defined in terms of itself", obj.name)
		if usePos != obj.pos {
			note(d, usePos, "%s used here", obj.name)
		}
		obj.cyclic = true
		return
	}
	obj.state = resolving
	ev := *obj.scope.ev
	ev.scope = obj.scope
	if obj.global {
		obj.deps = map[*object]bool{}
		ev.uses = obj.deps
	}
	var v value
	if ov, ok := c.overrides[obj.decl]; ok {
		v = ov
	} else {
		v = ev.eval(obj.decl.Value, obj.typ, obj.name)
	}
	if v.valid() {
		v.typ = obj.typ
	}
	if obj.cyclic {
		v = invalid
	}
	obj.val = v
	obj.state = resolved
}
