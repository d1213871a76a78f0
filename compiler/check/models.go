package check

import (
	"fmt"
	"sort"
	"strings"

	"github.com/bfcdev/bfc/lang/ast"
	"github.com/bfcdev/bfc/lang/parser"
	"github.com/bfcdev/bfc/lang/source"
)

// The model statements written as calls.
var (
	inputAttrs = []attrSpec{
		{name: "batch", typ: tInt, required: true},
		{name: "seq", typ: tInt, required: true},
	}
	embedAttrs = []attrSpec{
		{name: "vocab", typ: tDim, required: true},
		{name: "dim", typ: tDim, required: true},
		{name: "pos", typ: tPos},
	}
)

// models checks every model of the root files, in order.
func (c *checker) models() []*Model {
	var out []*Model
	for _, f := range c.files {
		if !f.root || f.ast == nil {
			continue
		}
		for _, d := range f.ast.Decls {
			if d.Model != nil {
				out = append(out, c.model(d.Model))
			}
		}
	}
	return out
}

// modelStmts are a model's statements sorted by kind.
type modelStmts struct {
	input, embed     *ast.Call
	norm, head, loss *ast.ModelStmt
	embedPos         source.Pos
	repeats          []*ast.Repeat
}

func (c *checker) model(md *ast.Model) *Model {
	m := &Model{Name: md.Name.Name, Pos: parser.Pos(md.Name.Pos)}
	uses := map[*object]bool{}
	sc := newScope(c.global)
	ev := &evaluator{c: c, scope: sc, uses: uses}
	sc.ev = ev

	// Constants: declare all, then evaluate in order.
	var consts []*object
	for _, st := range md.Body {
		if st.Const == nil {
			continue
		}
		obj := &object{kind: constObj, name: st.Const.Name.Name, pos: parser.Pos(st.Const.Name.Pos),
			typ: typ(st.Const.Type), decl: st.Const, scope: sc}
		if prev := sc.insert(obj); prev != nil {
			c.redeclared(obj, prev)
		}
		consts = append(consts, obj)
	}
	for _, obj := range consts {
		c.resolveConst(obj, obj.pos)
	}

	s := c.modelStmts(md)

	// input and embed
	if s.input != nil {
		args := c.bindArgs(ev, s.input, inputAttrs, "attribute", "input")
		m.MaxBatch = c.positive(ev, args, "batch")
		m.MaxSeq = c.positive(ev, args, "seq")
	}
	width := invalid
	if s.embed != nil {
		args := c.bindArgs(ev, s.embed, embedAttrs, "attribute", "embed")
		m.EmbedPos = s.embedPos
		m.Vocab = intOf(args.vals["vocab"])
		m.D = intOf(args.vals["dim"])
		width = args.vals["dim"]
		m.PosEmbed = "learned"
		if p, ok := args.vals["pos"]; ok {
			m.PosEmbed = ""
			if p.ok() {
				m.PosEmbed = p.w
			}
		}
	}

	// The blocks.
	width, repeatAt := c.expand(ev, m, s.repeats, width)
	m.FinalWidth = intOf(width)
	c.checkRoutes(m, s.input, repeatAt)

	// Final norm, head and loss.
	if s.norm != nil {
		m.NormPos = parser.Pos(s.norm.Pos)
		if k := c.word(s.norm.Norm, tNorm, "norm kind"); k != "" {
			m.FinalNorm = k
			m.NormEps = normEps(k)
		}
	}
	if s.head != nil {
		m.HeadPos = parser.Pos(s.head.Pos)
		k := c.word(s.head.Head, tHead, "head kind")
		m.Tied = k == "tied"
		if m.Tied && width.ok() && m.D > 0 && intOf(width) != m.D {
			c.errorf(m.HeadPos, WidthMismatch,
				"tied head needs the final width to equal the embedding dim %d, but the blocks end at width %d; use head untied or end at width %d",
				m.D, width.i, m.D)
		}
	}
	if s.loss != nil {
		m.LossPos = parser.Pos(s.loss.Pos)
		m.Loss = c.word(s.loss.Loss, tLoss, "loss")
	}

	m.Consts = c.modelConsts(uses, consts)
	return m
}

// modelStmts sorts md's statements, reporting repeated and missing ones
// and calls that are not model statements.
func (c *checker) modelStmts(md *ast.Model) *modelStmts {
	s := &modelStmts{}
	seen := map[string]source.Pos{}
	single := func(kind string, pos source.Pos) bool {
		if prev, ok := seen[kind]; ok {
			d := c.errorf(pos, DuplicateDecl, "model %s has a second %s statement; keep one", md.Name.Name, kind)
			note(d, prev, "other %s statement", kind)
			return false
		}
		seen[kind] = pos
		return true
	}
	for _, st := range md.Body {
		pos := parser.Pos(st.Pos)
		switch {
		case st.Repeat != nil:
			s.repeats = append(s.repeats, st.Repeat)
		case st.Norm != nil:
			if single("norm", pos) {
				s.norm = st
			}
		case st.Head != nil:
			if single("head", pos) {
				s.head = st
			}
		case st.Loss != nil:
			if single("loss", pos) {
				s.loss = st
			}
		case st.Call != nil:
			name := st.Call.Func.Name
			fpos := parser.Pos(st.Call.Func.Pos)
			switch name {
			case "input":
				if single("input", pos) {
					s.input = st.Call
				}
			case "embed":
				if single("embed", pos) {
					s.embed, s.embedPos = st.Call, pos
				}
			default:
				if obj := c.global.lookup(name); obj != nil && obj.kind == blockObj {
					c.errorf(fpos, UnknownName, "unknown model statement %s; to stack block %s write repeat 1 %s(...)", name, name, name)
				} else if primitives[name] != nil {
					c.errorf(fpos, UnknownName, "unknown model statement %s; %s is a layer primitive: declare it in a block and repeat the block", name, name)
				} else {
					c.unknownName(fpos, "unknown model statement %s%s; want input(...) or embed(...)", name, didYouMean(name, []string{"input", "embed"}))
				}
			}
		}
	}
	var missing, add []string
	need := func(kind, example string) {
		if _, ok := seen[kind]; !ok {
			missing = append(missing, kind)
			add = append(add, example)
		}
	}
	need("input", "input(batch: 8, seq: 256)")
	need("embed", "embed(vocab: 256, dim: 512)")
	if len(s.repeats) == 0 {
		missing = append(missing, "repeat")
		add = append(add, "repeat 4 Transformer(d: 512, heads: 8)")
	}
	need("norm", "norm rms")
	need("head", "head tied")
	need("loss", "loss cross_entropy")
	if len(missing) > 0 {
		c.errorf(parser.Pos(md.Name.Pos), MissingStmt, "model %s is missing %s; add %s",
			md.Name.Name, oneOf(missing), strings.Join(add, "; "))
	}
	return s
}

// positive returns a count attribute that must be at least 1.
func (c *checker) positive(ev *evaluator, args *boundArgs, name string) int {
	v := args.vals[name]
	if !v.ok() {
		return 0
	}
	if v.i <= 0 || v.i > maxSize {
		ev.errorf(parser.Pos(args.args[name].Value.Pos), false, InvalidSize, "%s must be between 1 and %d, got %d", name, maxSize, v.i)
		return 0
	}
	return int(v.i)
}

// word checks a statement's word (norm kind, head kind, loss).
func (c *checker) word(id *ast.Ident, t typ, what string) string {
	if isWord(t, id.Name) {
		return id.Name
	}
	c.errorf(parser.Pos(id.Pos), InvalidValue, "unknown %s %s%s; want %s", what, id.Name, didYouMean(id.Name, words[t]), oneOf(words[t]))
	return ""
}

// blockCall is one block of a repeat statement with its arguments.
type blockCall struct {
	def  *blockDef
	args map[string]value
}

// expand instantiates the repeated blocks in order on a stream of width
// in and returns the width after the last one, and the position of the
// repeat statement of each block instance.
func (c *checker) expand(ev *evaluator, m *Model, repeats []*ast.Repeat, width value) (value, []source.Pos) {
	var repeatAt []source.Pos
	type key struct {
		call  *blockCall
		known bool
		width int64
	}
	cache := map[key]*blockResult{}
	n := 0
	for _, r := range repeats {
		rpos := parser.Pos(r.Pos)
		count := ev.eval(r.Count, tInt, "repeat count")
		if count.ok() && count.i < 1 {
			ev.errorf(parser.Pos(r.Count.Pos), false, InvalidSize, "repeat count must be at least 1, got %d", count.i)
			count = invalid
		}
		calls := make([]*blockCall, len(r.Blocks))
		for i, call := range r.Blocks {
			calls[i] = c.blockCall(ev, call)
		}
		if !count.ok() {
			width = invalid
			continue
		}
		if total := int64(n) + count.i*int64(len(calls)); count.i > maxInstances || total > maxInstances {
			ev.errorf(parser.Pos(r.Count.Pos), false, InvalidSize, "repeat makes the model %d block instances deep; the limit is %d", total, maxInstances)
			width = invalid
			continue
		}
		for range count.i {
			for _, bc := range calls {
				i := n
				n++
				repeatAt = append(repeatAt, rpos)
				if bc == nil {
					width = invalid
					continue
				}
				k := key{call: bc, known: width.ok(), width: width.i}
				if !width.valid() {
					k.width = -1
				}
				res := cache[k]
				if res == nil {
					iev := &evaluator{c: c, inst: &instance{name: fmt.Sprintf("blocks.%d", i), repeatPos: rpos}, uses: ev.uses}
					res = c.runBlock(iev, bc.def, bc.args, width)
					cache[k] = res
				}
				for _, tl := range res.layers {
					l := *tl
					l.Instance = i
					l.Name = fmt.Sprintf("blocks.%d.%s", i, l.Sub)
					m.Layers = append(m.Layers, &l)
				}
				width = res.out
				width.dep = false
			}
		}
	}
	return width, repeatAt
}

// blockCall resolves a block in a repeat statement and evaluates its
// arguments; nil if the block is unknown.
func (c *checker) blockCall(ev *evaluator, call *ast.Call) *blockCall {
	name := call.Func.Name
	pos := parser.Pos(call.Func.Pos)
	obj := c.global.lookup(name)
	if obj == nil || obj.kind != blockObj {
		switch {
		case primitives[name] != nil:
			c.errorf(pos, UnknownName, "%s is a layer primitive, not a block; declare it in a block and repeat the block", name)
		case obj != nil:
			c.errorf(pos, UnknownName, "%s is a %s, not a block", name, obj.kind)
		default:
			c.unknownName(pos, "unknown block %s%s", name, didYouMean(name, c.global.namesOf(blockObj)))
		}
		return nil
	}
	args := c.bindArgs(ev, call, obj.block.attrs(), "parameter", "block "+name)
	return &blockCall{def: obj.block, args: args.vals}
}

// modelConsts lists the file-level constants a model uses, in file and
// declaration order, followed by the model's own.
func (c *checker) modelConsts(uses map[*object]bool, own []*object) []Const {
	var globals []*object
	for obj := range uses {
		globals = append(globals, obj)
	}
	sort.Slice(globals, func(i, j int) bool {
		a, b := globals[i], globals[j]
		if fa, fb := c.fileIndex[a.file], c.fileIndex[b.file]; fa != fb {
			return fa < fb
		}
		return a.pos.Offset < b.pos.Offset
	})
	var out []Const
	for _, obj := range append(globals, own...) {
		k := Const{Name: obj.name, Type: string(obj.typ), Pos: obj.pos}
		if obj.val.ok() {
			switch obj.val.cls {
			case cInt:
				k.Int = obj.val.i
			case cReal:
				k.Real = obj.val.r
			case cBool:
				k.Bool = obj.val.b
			}
		}
		out = append(out, k)
	}
	return out
}
