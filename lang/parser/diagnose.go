package parser

import (
	"fmt"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/bfcdev/bfc/lang/source"
)

// diagnose re-reads the tokens of a file the grammar rejected with a
// hand-written recursive-descent recogniser of the same language, and
// describes the first token that cannot continue the file: where it is, what
// it is and what could have come instead. It returns nil when it finds no
// error (which a test keeps from happening for inputs that the grammar
// rejects: the two must accept the same files).
//
// Keywords are not reserved, exactly as in the grammar: "dim", "norm",
// "repeat" and the like are names wherever a name is expected.
func diagnose(filename string, toks []lexer.Token) (d *source.Diagnostic) {
	if len(toks) == 0 || !toks[len(toks)-1].EOF() {
		toks = append(toks, lexer.EOFToken(lexer.Position{Filename: filename}))
	}
	r := &recogniser{toks: toks, filename: filename}
	defer func() {
		if e := recover(); e != nil {
			b, ok := e.(bailout)
			if !ok {
				panic(e)
			}
			d = b.d
		}
	}()
	r.file()
	return nil
}

type bailout struct{ d *source.Diagnostic }

type recogniser struct {
	toks     []lexer.Token
	i        int
	filename string
}

func (r *recogniser) peek(k int) *lexer.Token {
	if r.i+k < len(r.toks) {
		return &r.toks[r.i+k]
	}
	return &r.toks[len(r.toks)-1]
}

func (r *recogniser) next() *lexer.Token {
	t := r.peek(0)
	if r.i < len(r.toks)-1 {
		r.i++
	}
	return t
}

// is reports whether t is the punctuation or keyword text.
func is(t *lexer.Token, text string) bool {
	return (t.Type == tokPunct || t.Type == tokIdent) && t.Value == text
}

func isIdent(t *lexer.Token) bool { return t.Type == tokIdent }

func isOneOf(t *lexer.Token, words ...string) bool {
	if t.Type != tokIdent {
		return false
	}
	for _, w := range words {
		if t.Value == w {
			return true
		}
	}
	return false
}

var constTypes = []string{"dim", "int", "real", "bool"}

// describe names a token for a message.
func describe(t *lexer.Token) string {
	v := t.Value
	if len(v) > 24 {
		v = v[:21] + "..."
	}
	switch t.Type {
	case lexer.EOF:
		return "end of file"
	case tokString:
		return "string " + v
	case tokInt, tokFloat:
		return "number " + v
	}
	return fmt.Sprintf("%q", v)
}

// fail stops at the current token: "unexpected X, expected WHAT".
func (r *recogniser) fail(expected string, notes ...source.Note) {
	r.failAt(r.peek(0), "unexpected "+describe(r.peek(0))+", expected "+expected, notes...)
}

func (r *recogniser) failAt(t *lexer.Token, msg string, notes ...source.Note) {
	p := Pos(t.Pos)
	if p.File == "" {
		p.File = r.filename
	}
	panic(bailout{&source.Diagnostic{Pos: p, Code: "BadSyntax", Msg: msg, Notes: notes}})
}

func (r *recogniser) expect(text, expected string, notes ...source.Note) {
	if !is(r.peek(0), text) {
		r.fail(expected, notes...)
	}
	r.next()
}

func (r *recogniser) ident(what string) string {
	if !isIdent(r.peek(0)) {
		r.fail(what)
	}
	return r.next().Value
}

func (r *recogniser) opened(what string, t *lexer.Token) source.Note {
	p := Pos(t.Pos)
	if p.File == "" {
		p.File = r.filename
	}
	return source.Note{Pos: p, Msg: what + " opened here"}
}

// file = { import } { decl }
func (r *recogniser) file() {
	for is(r.peek(0), "import") {
		r.next()
		if r.peek(0).Type != tokString {
			r.fail("import path in quotes, as in import \"std/transformer.bf\"")
		}
		r.next()
	}
	for !r.peek(0).EOF() {
		t := r.peek(0)
		switch {
		case isOneOf(t, constTypes...):
			r.constDecl()
		case is(t, "block"):
			r.block()
		case is(t, "model"):
			r.model()
		case is(t, "search"):
			r.search()
		case is(t, "import"):
			r.failAt(t, `unexpected "import": imports must come before all declarations`)
		default:
			r.fail("a declaration: constant (dim, int, real or bool), block, model or search")
		}
	}
}

// const = type ident "=" expr
func (r *recogniser) constDecl() {
	typ := r.next().Value
	name := r.ident("constant name after " + typ)
	r.expect("=", fmt.Sprintf("\"=\" and a value after constant %s", name))
	r.expr()
}

// block = "block" ident "(" [ param { "," param } [","] ] ")" "{" { blockstmt } "}"
func (r *recogniser) block() {
	r.next()
	name := r.ident("block name")
	lparen := r.peek(0)
	r.expect("(", fmt.Sprintf("\"(\" and the parameters of block %s", name))
	for !is(r.peek(0), ")") {
		// param = ident ":" type [ "=" expr ]
		pname := r.ident(`parameter name or ")"`)
		r.expect(":", fmt.Sprintf("\":\" and a type after parameter %s", pname))
		if !isOneOf(r.peek(0), "dim", "int", "real", "bool", "act") {
			r.fail(fmt.Sprintf("type of parameter %s: dim, int, real, bool or act", pname))
		}
		r.next()
		expected := `"=", "," or ")"`
		if is(r.peek(0), "=") {
			r.next()
			r.expr()
			expected = `"," or ")"`
		}
		if !is(r.peek(0), ",") {
			if !is(r.peek(0), ")") {
				r.fail(expected+" in the parameters of block "+name, r.opened("(", lparen))
			}
			break
		}
		r.next()
	}
	r.next()
	lbrace := r.peek(0)
	r.expect("{", fmt.Sprintf("\"{\" and the body of block %s", name))
	for !is(r.peek(0), "}") {
		if r.peek(0).EOF() {
			r.fail(fmt.Sprintf("\"}\" to close block %s", name), r.opened("{", lbrace))
		}
		r.blockStmt()
	}
	r.next()
}

// blockstmt = const | "norm" ident [ "pre" | "post" ] | ident "=" call
func (r *recogniser) blockStmt() {
	t0, t1 := r.peek(0), r.peek(1)
	switch {
	case isOneOf(t0, constTypes...) && isIdent(t1):
		r.constDecl()
	case is(t0, "norm") && isIdent(t1):
		r.next()
		r.next()
		if isOneOf(r.peek(0), "pre", "post") {
			r.next()
		}
	case isIdent(t0):
		r.next()
		if is(t0, "norm") && !is(t1, "=") {
			r.failAt(t1, "unexpected "+describe(t1)+", expected the norm kind: rms, layer or none")
		}
		if is(t1, "(") {
			r.failAt(t1, fmt.Sprintf("unexpected \"(\" after %s: a sub-layer needs a name, as in NAME = %s(...)", t0.Value, t0.Value))
		}
		r.expect("=", fmt.Sprintf("\"=\" after sub-layer name %s", t0.Value))
		if !isIdent(r.peek(0)) {
			r.fail("a primitive call after \"=\", as in ffn(hidden: 4 * d)")
		}
		r.call()
	default:
		r.fail(`a sub-layer (name = primitive(...)), a constant, norm or "}"`)
	}
}

// call = ident "(" [ arg { "," arg } [","] ] ")"
func (r *recogniser) call() {
	name := r.next().Value
	lparen := r.peek(0)
	r.expect("(", fmt.Sprintf("\"(\" after %s", name))
	for !is(r.peek(0), ")") {
		// arg = ident ":" expr
		if !isIdent(r.peek(0)) {
			r.fail(`argument name or ")"`)
		}
		arg := r.next()
		if !is(r.peek(0), ":") {
			if is(r.peek(0), ",") || is(r.peek(0), ")") {
				r.fail(fmt.Sprintf("\":\" after %s: arguments are written name: value", arg.Value))
			}
			r.fail(fmt.Sprintf("\":\" after argument name %s", arg.Value))
		}
		r.next()
		r.expr()
		if !is(r.peek(0), ",") {
			if !is(r.peek(0), ")") {
				r.fail(fmt.Sprintf("\",\" or \")\" in the arguments of %s", name), r.opened("(", lparen))
			}
			break
		}
		r.next()
	}
	r.next()
}

// model = "model" ident "{" { modelstmt } "}"
func (r *recogniser) model() {
	r.next()
	name := r.ident("model name")
	lbrace := r.peek(0)
	r.expect("{", fmt.Sprintf("\"{\" and the body of model %s", name))
	for !is(r.peek(0), "}") {
		if r.peek(0).EOF() {
			r.fail(fmt.Sprintf("\"}\" to close model %s", name), r.opened("{", lbrace))
		}
		r.modelStmt()
	}
	r.next()
}

// modelstmt = const
//
//	| "repeat" expr ( call | "[" call { "," call } [","] "]" )
//	| "norm" ident | "head" ident | "loss" ident
//	| call
func (r *recogniser) modelStmt() {
	t0, t1, t2, t3 := r.peek(0), r.peek(1), r.peek(2), r.peek(3)
	switch {
	case isOneOf(t0, constTypes...) && isIdent(t1):
		r.constDecl()
	case is(t0, "repeat") && !(is(t1, "(") && (is(t2, ")") || isIdent(t2) && is(t3, ":"))):
		r.repeat()
	case isOneOf(t0, "norm", "head", "loss") && isIdent(t1):
		r.next()
		r.next()
	case isIdent(t0):
		if !is(t1, "(") {
			switch {
			case isOneOf(t0, "pre", "post") && r.i >= 2 && is(&r.toks[r.i-2], "norm") && isIdent(&r.toks[r.i-1]):
				r.failAt(t0, fmt.Sprintf("unexpected %q: the final norm of a model takes no placement", t0.Value))
			case is(t0, "norm"):
				r.failAt(t1, "unexpected "+describe(t1)+", expected the final norm: rms, layer or none")
			case is(t0, "head"):
				r.failAt(t1, "unexpected "+describe(t1)+", expected the head: tied or untied")
			case is(t0, "loss"):
				r.failAt(t1, "unexpected "+describe(t1)+", expected the loss, as in loss cross_entropy")
			case is(t1, "="):
				r.failAt(t1, fmt.Sprintf("unexpected \"=\" after %s: sub-layers belong in blocks; a model holds constants, input, embed, repeat, norm, head and loss", t0.Value))
			case isIdent(t0) && isOneOf(t0, constTypes...):
				r.failAt(t1, "unexpected "+describe(t1)+", expected constant name after "+t0.Value)
			}
			r.failAt(t1, "unexpected "+describe(t1)+", expected \"(\" after "+t0.Value)
		}
		r.call()
	default:
		r.fail(`a model statement (constant, input, embed, repeat, norm, head, loss) or "}"`)
	}
}

func (r *recogniser) repeat() {
	r.next()
	count := r.peek(0)
	if !startsExpr(count) {
		r.fail("repeat count")
	}
	r.expr()
	if is(count, "[") && !is(r.peek(0), "[") && !isIdent(r.peek(0)) {
		// repeat [A(...), B(...)]: the list parsed as the count, and no
		// blocks follow it.
		r.failAt(count, `unexpected "[", expected repeat count, as in repeat 4 [A(...), B(...)]`)
	}
	if is(r.peek(0), "[") {
		lbrack := r.next()
		for {
			if !isIdent(r.peek(0)) {
				r.fail("block call, as in Transformer(d: d)")
			}
			r.call()
			if !is(r.peek(0), ",") {
				break
			}
			r.next()
			if is(r.peek(0), "]") {
				break
			}
		}
		r.expect("]", `"," or "]" in the list of blocks`, r.opened("[", lbrack))
		return
	}
	if !isIdent(r.peek(0)) {
		r.fail(`block call or "[" after the repeat count`)
	}
	r.call()
}

func startsExpr(t *lexer.Token) bool {
	return t.Type == tokInt || t.Type == tokFloat || isIdent(t) || is(t, "(") || is(t, "[") || is(t, "-")
}

// expr = term { ("+" | "-") term }
func (r *recogniser) expr() {
	r.term()
	for is(r.peek(0), "+") || is(r.peek(0), "-") {
		r.next()
		r.term()
	}
}

// term = unary { ("*" | "/" | "%") unary }
func (r *recogniser) term() {
	r.unary()
	for is(r.peek(0), "*") || is(r.peek(0), "/") || is(r.peek(0), "%") {
		r.next()
		r.unary()
	}
}

// unary = [ "-" ] primary
// primary = real | int | "true" | "false" | call | ident | "(" expr ")" | list
func (r *recogniser) unary() {
	if is(r.peek(0), "-") {
		r.next()
	}
	t := r.peek(0)
	switch {
	case t.Type == tokInt || t.Type == tokFloat || isOneOf(t, "true", "false"):
		r.next()
	case isIdent(t):
		if is(r.peek(1), "(") {
			r.call()
		} else {
			r.next()
		}
	case is(t, "("):
		r.next()
		r.expr()
		r.expect(")", `")"`, r.opened("(", t))
	case is(t, "["):
		r.list()
	default:
		prev := r.toks[max(r.i-1, 0)]
		if r.i > 0 && prev.Type == tokPunct && strings.Contains("+-*/%=:", prev.Value) {
			r.fail(fmt.Sprintf("expression after %q", prev.Value))
		}
		r.fail("expression")
	}
}

// list = "[" [ expr { "," expr } [","] ] "]"
func (r *recogniser) list() {
	lbrack := r.next()
	for !is(r.peek(0), "]") {
		if t := r.peek(0); !startsExpr(t) {
			var notes []source.Note
			if t.EOF() || is(t, ")") || is(t, "}") {
				notes = append(notes, r.opened("[", lbrack))
			}
			r.fail(`a value or "]" in the list`, notes...)
		}
		r.expr()
		if !is(r.peek(0), ",") {
			if !is(r.peek(0), "]") {
				r.fail(`"," or "]" in the list`, r.opened("[", lbrack))
			}
			break
		}
		r.next()
	}
	r.next()
}

// search = "search" ident "{" { searchstmt } "}"
func (r *recogniser) search() {
	r.next()
	name := r.ident("search name")
	lbrace := r.peek(0)
	r.expect("{", fmt.Sprintf("\"{\" and the body of search %s", name))
	for !is(r.peek(0), "}") {
		if r.peek(0).EOF() {
			r.fail(fmt.Sprintf("\"}\" to close search %s", name), r.opened("{", lbrace))
		}
		r.searchStmt()
	}
	r.next()
}

// searchstmt = "baseline" ident | ident ":" expr | call
func (r *recogniser) searchStmt() {
	t0, t1 := r.peek(0), r.peek(1)
	switch {
	case is(t0, "baseline") && isIdent(t1):
		r.next()
		r.next()
	case isIdent(t0) && is(t1, ":"):
		r.next()
		r.next()
		r.expr()
	case isIdent(t0) && is(t1, "("):
		r.call()
	case is(t0, "baseline"):
		r.failAt(t1, "unexpected "+describe(t1)+", expected the baseline model, as in baseline M")
	case isIdent(t0) && is(t1, "="):
		r.failAt(t1, fmt.Sprintf("unexpected \"=\" after %s: a choice is written name: value, as in %s: [a, b]", t0.Value, t0.Value))
	case isIdent(t0):
		r.failAt(t1, fmt.Sprintf("unexpected %s, expected \":\" or \"(\" after %s, as in %s: [a, b] or %s(attr: [a, b])", describe(t1), t0.Value, t0.Value, t0.Value))
	default:
		r.fail(`a search statement (baseline M, name: [choices] or primitive(attr: [choices])) or "}"`)
	}
}
