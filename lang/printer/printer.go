package printer

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/bfcdev/bfc/lang/ast"
	"github.com/bfcdev/bfc/lang/parser"
)

// Format parses src and returns it in canonical form. Syntax errors are
// returned as from parser.Parse.
func Format(filename string, src []byte) ([]byte, error) {
	f, err := parser.Parse(filename, src)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := Fprint(&buf, f); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Fprint writes f in canonical form to w. The comments of f.Comments are
// placed by their positions; a tree built without positions prints without
// comments in between, and any comments it has come at the end.
func Fprint(w io.Writer, f *ast.File) (err error) {
	if f == nil {
		return fmt.Errorf("printer: nil file")
	}
	p := &printer{}
	for _, c := range f.Comments {
		if c != nil {
			p.comments = append(p.comments, c)
		}
	}
	defer func() {
		if e := recover(); e != nil {
			ie, ok := e.(invalidAST)
			if !ok {
				panic(e)
			}
			err = ie
		}
	}()
	p.file(f)
	_, err = w.Write(render(p.lines))
	return err
}

// invalidAST reports a tree the grammar could not have produced.
type invalidAST string

func (e invalidAST) Error() string { return "printer: invalid syntax tree: " + string(e) }

const indentUnit = "    "

// noNext is the offset bound for comments after the last token.
const noNext = math.MaxInt

type printer struct {
	lines    []outLine
	comments []*ast.Comment
	ci       int // next comment to print

	indent int // indentation of new lines

	// The line being built: its text, indentation and the source position
	// of its first token.
	line       strings.Builder
	lineIndent int
	lineStart  lexer.Position
	lineOpen   bool
	// lineClosing marks a line that starts with a closing bracket: no
	// blank line before it, and comments moved before it are indented
	// like the elements of the list it closes.
	lineClosing bool

	lastLine  int  // source line of the last printed token or comment
	wantBlank bool // print a blank line before the next line
	noBlank   bool // keep no blank line before the next line
}

// start begins a new output line at the current indentation, whose first
// token is at pos, unless a line is already open.
func (p *printer) start(pos lexer.Position) {
	if p.lineOpen {
		return
	}
	p.lineOpen = true
	p.lineIndent = p.indent
	p.lineStart = pos
	p.lineClosing = false
}

// startClosing begins a line with the closing bracket at pos, after the
// elements indented one level deeper have been printed and the indentation
// restored.
func (p *printer) startClosing(pos lexer.Position) {
	p.start(pos)
	p.lineClosing = true
}

// opened marks the end of a line that opens a list or body: the first
// element gets no blank line before it.
func (p *printer) opened() {
	p.indent++
	p.noBlank = true
}

func (p *printer) text(s string) {
	if !p.lineOpen {
		p.start(lexer.Position{})
	}
	p.line.WriteString(s)
}

// emit writes one output line at indentation ind, preceded by a blank line
// when one is wanted or the source had one before srcLine.
func (p *printer) emit(ind int, s string, srcLine int) {
	if len(p.lines) > 0 && !p.noBlank && (p.wantBlank || srcLine > 0 && p.lastLine > 0 && srcLine > p.lastLine+1) {
		p.lines = append(p.lines, outLine{blank: true})
	}
	p.wantBlank, p.noBlank = false, false
	p.lines = append(p.lines, outLine{indent: ind, text: s})
}

// outLine is one line of output.
type outLine struct {
	blank   bool
	indent  int
	text    string
	comment string // a comment at the end of the line
}

// render writes the lines, aligning the end-of-line comments of
// consecutive lines with the same indentation into one column.
func render(lines []outLine) []byte {
	var b bytes.Buffer
	for i := 0; i < len(lines); {
		// The run of lines that align with line i.
		j, width := i, 0
		for j < len(lines) && lines[j].comment != "" && !lines[j].blank && lines[j].indent == lines[i].indent {
			width = max(width, utf8.RuneCountInString(lines[j].text))
			j++
		}
		if j == i {
			j = i + 1
		}
		for _, l := range lines[i:j] {
			if !l.blank {
				b.WriteString(strings.Repeat(indentUnit, l.indent))
				b.WriteString(l.text)
				if l.comment != "" {
					b.WriteString(strings.Repeat(" ", width-utf8.RuneCountInString(l.text)+1))
					b.WriteString(l.comment)
				}
			}
			b.WriteByte('\n')
		}
		i = j
	}
	return b.Bytes()
}

// commentsBefore prints, each on a line of its own at indentation ind, the
// comments that start before offset off.
func (p *printer) commentsBefore(off int, ind int) {
	for p.ci < len(p.comments) && p.comments[p.ci].Pos.Offset < off {
		c := p.comments[p.ci]
		if c.Pos.Line == 0 && off != noNext {
			return // comments without a position go at the end
		}
		p.ci++
		p.emit(ind, c.Text, c.Pos.Line)
		p.lastLine = max(p.lastLine, c.Pos.Line)
	}
}

// end finishes the open line, whose last token ends at end. Comments before
// end are printed first, on lines of their own; a comment on the source
// line of end that starts before offset next (the next token) is kept at the
// end of the line.
func (p *printer) end(end lexer.Position, next int) {
	if !p.lineOpen {
		panic(invalidAST("empty line"))
	}
	if p.lineClosing {
		p.commentsBefore(end.Offset, p.lineIndent+1)
		p.noBlank = true
	} else {
		p.commentsBefore(end.Offset, p.lineIndent)
	}
	p.emit(p.lineIndent, p.line.String(), p.lineStart.Line)
	p.line.Reset()
	p.lineOpen = false
	p.lastLine = max(p.lastLine, end.Line)
	if p.ci < len(p.comments) {
		c := p.comments[p.ci]
		if end.Line > 0 && c.Pos.Line == end.Line && c.Pos.Offset >= end.Offset && c.Pos.Offset < next {
			p.lines[len(p.lines)-1].comment = c.Text
			p.ci++
		}
	}
}

// hasComment reports whether a comment starts between offsets from and to
// (exclusive).
func (p *printer) hasComment(from, to lexer.Position) bool {
	if to.Offset <= from.Offset {
		return false
	}
	i := sort.Search(len(p.comments), func(i int) bool { return p.comments[i].Pos.Offset > from.Offset })
	return i < len(p.comments) && p.comments[i].Pos.Offset < to.Offset
}

func after(p lexer.Position) lexer.Position {
	if p.Line == 0 {
		return p
	}
	p.Offset++
	p.Column++
	return p
}

func (p *printer) file(f *ast.File) {
	for i, imp := range f.Imports {
		if imp == nil {
			panic(invalidAST("nil import"))
		}
		next := noNext
		if i+1 < len(f.Imports) {
			next = f.Imports[i+1].Pos.Offset
		} else if len(f.Decls) > 0 && f.Decls[0] != nil {
			next = f.Decls[0].Pos.Offset
		}
		p.start(imp.Pos)
		p.text("import " + strconv.Quote(imp.Path))
		p.end(imp.EndPos, next)
	}
	for i, d := range f.Decls {
		if d == nil {
			panic(invalidAST("nil declaration"))
		}
		if i == 0 && len(f.Imports) > 0 || i > 0 && (d.Const == nil || f.Decls[i-1].Const == nil) {
			p.wantBlank = true
		}
		next := noNext
		if i+1 < len(f.Decls) && f.Decls[i+1] != nil {
			next = f.Decls[i+1].Pos.Offset
		}
		p.start(d.Pos)
		switch {
		case d.Const != nil:
			p.constDecl(d.Const)
		case d.Block != nil:
			p.block(d.Block)
		case d.Model != nil:
			p.model(d.Model)
		case d.Search != nil:
			p.search(d.Search)
		default:
			panic(invalidAST("empty declaration"))
		}
		p.end(d.EndPos, next)
	}
	p.commentsBefore(noNext, 0)
}

func (p *printer) constDecl(c *ast.Const) {
	p.text(c.Type + " " + name(c.Name) + " = ")
	p.expr(c.Value)
}

func name(id *ast.Ident) string {
	if id == nil || id.Name == "" {
		panic(invalidAST("missing name"))
	}
	return id.Name
}

func (p *printer) block(b *ast.Block) {
	p.text("block " + name(b.Name) + "(")
	broken := len(b.Params) > 0 && b.Params[0].Pos.Line > b.Name.EndPos.Line || p.hasComment(b.LParen, b.RParen)
	if !broken {
		for i, prm := range b.Params {
			if i > 0 {
				p.text(", ")
			}
			p.param(prm)
		}
		p.text(")")
	} else {
		p.end(after(b.LParen), firstPos(len(b.Params), func(i int) lexer.Position { return b.Params[i].Pos }, b.RParen))
		p.opened()
		for i, prm := range b.Params {
			p.start(prm.Pos)
			p.param(prm)
			p.text(",")
			p.end(prm.EndPos, firstPos(len(b.Params)-i-1, func(j int) lexer.Position { return b.Params[i+1+j].Pos }, b.RParen))
		}
		p.commentsBefore(b.RParen.Offset, p.indent)
		p.indent--
		p.startClosing(b.RParen)
		p.text(")")
	}
	p.body(len(b.Body), func(i int) lexer.Position { return b.Body[i].Pos }, func(i int) lexer.Position { return b.Body[i].EndPos },
		b.LBrace, b.RBrace, func(i int) { p.blockStmt(b.Body[i]) })
}

// firstPos is the position of the first of n elements, or end if n is 0.
func firstPos(n int, pos func(int) lexer.Position, end lexer.Position) int {
	if n > 0 {
		return pos(0).Offset
	}
	return end.Offset
}

func (p *printer) param(prm *ast.Param) {
	if prm == nil {
		panic(invalidAST("nil parameter"))
	}
	p.text(name(prm.Name) + ": " + prm.Type)
	if prm.Default != nil {
		p.text(" = ")
		p.expr(prm.Default)
	}
}

// body prints " {", the n statements of a body one per line and the closing
// brace (the caller ends that line). An empty body without comments prints
// as " {}".
func (p *printer) body(n int, pos, endPos func(int) lexer.Position, lbrace, rbrace lexer.Position, stmt func(int)) {
	if n == 0 && !p.hasComment(lbrace, rbrace) {
		p.text(" {}")
		return
	}
	p.text(" {")
	p.end(after(lbrace), firstPos(n, pos, rbrace))
	p.opened()
	for i := range n {
		next := rbrace.Offset
		if i+1 < n {
			next = pos(i + 1).Offset
		}
		p.start(pos(i))
		stmt(i)
		p.end(endPos(i), next)
	}
	p.commentsBefore(rbrace.Offset, p.indent)
	p.indent--
	p.startClosing(rbrace)
	p.text("}")
}

func (p *printer) blockStmt(s *ast.BlockStmt) {
	if s == nil {
		panic(invalidAST("nil statement"))
	}
	switch {
	case s.Const != nil:
		p.constDecl(s.Const)
	case s.Norm != nil:
		p.text("norm " + name(s.Norm.Kind))
		if s.Norm.Placement != "" {
			p.text(" " + s.Norm.Placement)
		}
	case s.SubLayer != nil:
		p.text(name(s.SubLayer.Name) + " = ")
		p.call(s.SubLayer.Call)
	default:
		panic(invalidAST("empty block statement"))
	}
}

func (p *printer) model(m *ast.Model) {
	p.text("model " + name(m.Name))
	p.body(len(m.Body), func(i int) lexer.Position { return m.Body[i].Pos }, func(i int) lexer.Position { return m.Body[i].EndPos },
		m.LBrace, m.RBrace, func(i int) { p.modelStmt(m.Body[i]) })
}

func (p *printer) modelStmt(s *ast.ModelStmt) {
	if s == nil {
		panic(invalidAST("nil statement"))
	}
	switch {
	case s.Const != nil:
		p.constDecl(s.Const)
	case s.Repeat != nil:
		p.repeat(s.Repeat)
	case s.Norm != nil:
		p.text("norm " + name(s.Norm))
	case s.Head != nil:
		p.text("head " + name(s.Head))
	case s.Loss != nil:
		p.text("loss " + name(s.Loss))
	case s.Call != nil:
		p.call(s.Call)
	default:
		panic(invalidAST("empty model statement"))
	}
}

func (p *printer) search(s *ast.Search) {
	p.text("search " + name(s.Name))
	stmt := func(i int) *ast.SearchStmt {
		if s.Body[i] == nil {
			panic(invalidAST("nil statement"))
		}
		return s.Body[i]
	}
	p.body(len(s.Body), func(i int) lexer.Position { return stmt(i).Pos }, func(i int) lexer.Position { return stmt(i).EndPos },
		s.LBrace, s.RBrace, func(i int) { p.searchStmt(stmt(i)) })
}

func (p *printer) searchStmt(s *ast.SearchStmt) {
	if s == nil {
		panic(invalidAST("nil statement"))
	}
	switch {
	case s.Baseline != nil:
		p.text("baseline " + name(s.Baseline))
	case s.Choice != nil:
		p.arg(s.Choice)
	case s.Kind != nil:
		p.call(s.Kind)
	default:
		panic(invalidAST("empty search statement"))
	}
}

func (p *printer) repeat(r *ast.Repeat) {
	p.text("repeat ")
	p.expr(r.Count)
	p.text(" ")
	if !r.List {
		if len(r.Blocks) != 1 {
			panic(invalidAST("repeat without a list needs one block"))
		}
		p.call(r.Blocks[0])
		return
	}
	if len(r.Blocks) == 0 {
		panic(invalidAST("empty repeat list"))
	}
	p.text("[")
	broken := r.Blocks[0].Pos.Line > r.Count.EndPos.Line || p.hasComment(r.LBrack, r.RBrack)
	if !broken {
		for i, c := range r.Blocks {
			if i > 0 {
				p.text(", ")
			}
			p.call(c)
		}
		p.text("]")
		return
	}
	p.end(after(r.LBrack), r.Blocks[0].Pos.Offset)
	p.opened()
	for i, c := range r.Blocks {
		next := r.RBrack.Offset
		if i+1 < len(r.Blocks) {
			next = r.Blocks[i+1].Pos.Offset
		}
		p.start(c.Pos)
		p.call(c)
		p.text(",")
		p.end(c.EndPos, next)
	}
	p.commentsBefore(r.RBrack.Offset, p.indent)
	p.indent--
	p.startClosing(r.RBrack)
	p.text("]")
}

func (p *printer) call(c *ast.Call) {
	if c == nil {
		panic(invalidAST("nil call"))
	}
	p.text(name(c.Func) + "(")
	broken := len(c.Args) > 0 && c.Args[0].Pos.Line > c.Func.EndPos.Line || p.hasComment(c.LParen, c.RParen)
	if !broken {
		for i, a := range c.Args {
			if i > 0 {
				p.text(", ")
			}
			p.arg(a)
		}
		p.text(")")
		return
	}
	p.end(after(c.LParen), firstPos(len(c.Args), func(i int) lexer.Position { return c.Args[i].Pos }, c.RParen))
	p.opened()
	for i, a := range c.Args {
		next := c.RParen.Offset
		if i+1 < len(c.Args) {
			next = c.Args[i+1].Pos.Offset
		}
		p.start(a.Pos)
		p.arg(a)
		p.text(",")
		p.end(a.EndPos, next)
	}
	p.commentsBefore(c.RParen.Offset, p.indent)
	p.indent--
	p.startClosing(c.RParen)
	p.text(")")
}

// list prints a list of values: on one line, or one element per line when
// the first element starts on a line after the "[" or a comment falls
// inside the brackets.
func (p *printer) list(l *ast.List) {
	p.text("[")
	broken := len(l.Elems) > 0 && l.Elems[0] != nil && l.Elems[0].Pos.Line > l.LBrack.Line || p.hasComment(l.LBrack, l.RBrack)
	if !broken {
		for i, e := range l.Elems {
			if i > 0 {
				p.text(", ")
			}
			p.expr(e)
		}
		p.text("]")
		return
	}
	elemPos := func(i int) lexer.Position {
		if l.Elems[i] == nil {
			panic(invalidAST("missing expression"))
		}
		return l.Elems[i].Pos
	}
	p.end(after(l.LBrack), firstPos(len(l.Elems), elemPos, l.RBrack))
	p.opened()
	for i, e := range l.Elems {
		next := l.RBrack.Offset
		if i+1 < len(l.Elems) {
			next = elemPos(i + 1).Offset
		}
		p.start(elemPos(i))
		p.expr(e)
		p.text(",")
		p.end(e.EndPos, next)
	}
	p.commentsBefore(l.RBrack.Offset, p.indent)
	p.indent--
	p.startClosing(l.RBrack)
	p.text("]")
}

func (p *printer) arg(a *ast.Arg) {
	if a == nil {
		panic(invalidAST("nil argument"))
	}
	p.text(name(a.Name) + ": ")
	p.expr(a.Value)
}

func (p *printer) expr(e *ast.Expr) {
	if e == nil {
		panic(invalidAST("missing expression"))
	}
	p.term(e.Left)
	for _, op := range e.Ops {
		if op == nil || op.Op != "+" && op.Op != "-" {
			panic(invalidAST("bad additive operator"))
		}
		p.text(" " + op.Op + " ")
		p.term(op.Right)
	}
}

func (p *printer) term(t *ast.Term) {
	if t == nil {
		panic(invalidAST("missing term"))
	}
	p.unary(t.Left)
	for _, op := range t.Ops {
		if op == nil || op.Op != "*" && op.Op != "/" && op.Op != "%" {
			panic(invalidAST("bad multiplicative operator"))
		}
		p.text(" " + op.Op + " ")
		p.unary(op.Right)
	}
}

func (p *printer) unary(u *ast.Unary) {
	if u == nil || u.Primary == nil {
		panic(invalidAST("missing operand"))
	}
	if u.Neg {
		p.text("-")
	}
	x := u.Primary
	switch {
	case x.Real != nil:
		p.text(*x.Real)
	case x.Int != nil:
		p.text(*x.Int)
	case x.Bool != nil:
		p.text(*x.Bool)
	case x.Call != nil:
		p.call(x.Call)
	case x.Ident != nil:
		p.text(name(x.Ident))
	case x.Paren != nil:
		p.text("(")
		p.expr(x.Paren)
		p.text(")")
	case x.List != nil:
		p.list(x.List)
	default:
		panic(invalidAST("empty operand"))
	}
}
