package check

import (
	"github.com/bfcdev/bfc/lang/ast"
	"github.com/bfcdev/bfc/lang/parser"
	"github.com/bfcdev/bfc/lang/source"
)

// blockDef is a block declaration with its parameters resolved to types.
type blockDef struct {
	name   string
	decl   *ast.Block
	file   *file
	params []*paramDef
}

type paramDef struct {
	name string
	typ  typ
	pos  source.Pos
	def  *ast.Expr // default, or nil
}

func (c *checker) newBlockDef(f *file, b *ast.Block) *blockDef {
	def := &blockDef{name: b.Name.Name, decl: b, file: f}
	for _, p := range b.Params {
		def.params = append(def.params, &paramDef{name: p.Name.Name, typ: typ(p.Type), pos: parser.Pos(p.Name.Pos), def: p.Default})
	}
	c.blocks[b] = def
	return def
}

// attrs describes the block's parameters as call attributes.
func (b *blockDef) attrs() []attrSpec {
	var out []attrSpec
	for _, p := range b.params {
		out = append(out, attrSpec{name: p.name, typ: p.typ, required: p.def == nil})
	}
	return out
}

// blockDefs checks every block definition once on its own (the generic
// pass): its parameters stand for unknown values of their types and the
// stream entering it has an unknown width. Errors that do not depend on
// the arguments are reported here, once per definition; expanding an
// instance later reports only those that do.
func (c *checker) blockDefs() {
	for _, f := range c.order {
		for _, d := range f.ast.Decls {
			if d.Block != nil {
				ev := &evaluator{c: c}
				c.runBlock(ev, c.blocks[d.Block], nil, unknown(tDim, true))
			}
		}
	}
}

// blockResult is a block expanded for one input width and argument list.
type blockResult struct {
	layers []*Layer // Name and Instance unset
	out    value    // width of the stream after the block
}

// runBlock checks block b's body with the given arguments (nil: the
// generic pass) on a stream of width in.
func (c *checker) runBlock(outer *evaluator, b *blockDef, args map[string]value, in value) *blockResult {
	sc := newScope(c.global)
	ev := &evaluator{c: c, scope: sc, inst: outer.inst, uses: outer.uses}
	sc.ev = ev

	// Parameters, in order: a default may use the parameters before it.
	for _, p := range b.params {
		var v value
		switch a, ok := args[p.name]; {
		case args == nil:
			if p.def != nil {
				ev.eval(p.def, p.typ, p.name)
			}
			v = unknown(p.typ, true)
		case ok:
			v = a
		case p.def != nil:
			v = ev.eval(p.def, p.typ, p.name)
		default:
			v = invalid // missing argument, reported at the call
		}
		v.dep = true
		obj := &object{kind: paramObj, name: p.name, pos: p.pos, typ: p.typ, val: v, state: resolved}
		if prev := sc.insert(obj); prev != nil {
			d := ev.errorf(p.pos, false, DuplicateDecl, "parameter %s redeclared; rename one of them", p.name)
			note(d, prev.pos, "other declaration of %s", p.name)
		}
	}

	// Local constants: declare all, then evaluate in order.
	var locals []*object
	for _, st := range b.decl.Body {
		if st.Const == nil {
			continue
		}
		obj := &object{kind: constObj, name: st.Const.Name.Name, pos: parser.Pos(st.Const.Name.Pos),
			typ: typ(st.Const.Type), decl: st.Const, scope: sc}
		if prev := sc.insert(obj); prev != nil {
			d := ev.errorf(obj.pos, false, DuplicateDecl, "%s %s redeclared; rename one of them", obj.kind, obj.name)
			note(d, prev.pos, "other declaration of %s", obj.name)
		}
		locals = append(locals, obj)
	}
	for _, obj := range locals {
		c.resolveConst(obj, obj.pos)
	}

	// The default norm wrapper of the sub-layers.
	defaults := layerDefaults{norm: wordVal("rms"), placement: wordVal("pre")}
	var normStmt *ast.NormDefault
	for _, st := range b.decl.Body {
		n := st.Norm
		if n == nil {
			continue
		}
		if normStmt != nil {
			d := ev.errorf(parser.Pos(n.Pos), false, DuplicateDecl, "block %s sets its default norm twice; keep one norm statement", b.name)
			note(d, parser.Pos(normStmt.Pos), "other norm statement")
			continue
		}
		normStmt = n
		if !isWord(tNorm, n.Kind.Name) {
			ev.errorf(parser.Pos(n.Kind.Pos), false, InvalidValue, "unknown norm kind %s%s; want %s",
				n.Kind.Name, didYouMean(n.Kind.Name, words[tNorm]), oneOf(words[tNorm]))
			defaults.norm = invalid
		} else {
			defaults.norm = wordVal(n.Kind.Name)
		}
		if n.Placement != "" {
			defaults.placement = wordVal(n.Placement)
		}
	}

	// Sub-layers, in order, threading the stream's width.
	res := &blockResult{}
	width := in
	width.dep = true
	subs := map[string]*ast.SubLayer{}
	for _, st := range b.decl.Body {
		sl := st.SubLayer
		if sl == nil {
			continue
		}
		if prev := subs[sl.Name.Name]; prev != nil {
			d := ev.errorf(parser.Pos(sl.Name.Pos), false, DuplicateDecl, "sub-layer %s redeclared; its parameters would share names", sl.Name.Name)
			note(d, parser.Pos(prev.Name.Pos), "other declaration of %s", sl.Name.Name)
		} else {
			subs[sl.Name.Name] = sl
		}
		l, out := c.subLayer(ev, sl, width, defaults)
		if l != nil {
			l.Block = b.name
			res.layers = append(res.layers, l)
		}
		width = out
	}
	res.out = width
	return res
}
