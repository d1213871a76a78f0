package parser

import (
	"strings"
	"testing"

	"github.com/bfcdev/bfc/lang/ast"
)

// group renders an expression fully parenthesised, to check precedence and
// associativity independently of the printer.
func group(e *ast.Expr) string {
	s := groupTerm(e.Left)
	for _, op := range e.Ops {
		s = "(" + s + " " + op.Op + " " + groupTerm(op.Right) + ")"
	}
	return s
}

func groupTerm(t *ast.Term) string {
	s := groupUnary(t.Left)
	for _, op := range t.Ops {
		s = "(" + s + " " + op.Op + " " + groupUnary(op.Right) + ")"
	}
	return s
}

func groupUnary(u *ast.Unary) string {
	p := u.Primary
	var s string
	switch {
	case p.Real != nil:
		s = "real:" + *p.Real
	case p.Int != nil:
		s = *p.Int
	case p.Bool != nil:
		s = "bool:" + *p.Bool
	case p.Ident != nil:
		s = p.Ident.Name
	case p.Call != nil:
		var args []string
		for _, a := range p.Call.Args {
			args = append(args, a.Name.Name+"="+group(a.Value))
		}
		s = p.Call.Func.Name + "{" + strings.Join(args, ";") + "}"
	case p.Paren != nil:
		s = "[" + group(p.Paren) + "]"
	}
	if u.Neg {
		s = "(-" + s + ")"
	}
	return s
}

func TestExpressions(t *testing.T) {
	for src, want := range map[string]string{
		"1 + 2 * 3":          "(1 + (2 * 3))",
		"1 * 2 + 3":          "((1 * 2) + 3)",
		"a - b - c":          "((a - b) - c)",
		"a / b / c":          "((a / b) / c)",
		"a % b * c":          "((a % b) * c)",
		"-a * -b":            "((-a) * (-b))",
		"2 - -3":             "(2 - (-3))",
		"2-3":                "(2 - 3)",
		"-(d + 1)":           "(-[(d + 1)])",
		"((a))":              "[[a]]",
		"(1 + 2) * 3":        "([(1 + 2)] * 3)",
		"1e-6":               "real:1e-6",
		"2.5E+10 * 0.5":      "(real:2.5E+10 * real:0.5)",
		"3.":                 "real:3.",
		"1e3":                "real:1e3",
		"007":                "007",
		"true":               "bool:true",
		"f(x: 1, y: -a, )":   "f{x=1;y=(-a)}",
		"g() + 1":            "(g{} + 1)",
		"e(capacity: 2 * k)": "e{capacity=(2 * k)}",
	} {
		f, err := Parse("e.bf", []byte("real x = "+src))
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		if got := group(f.Decls[0].Const.Value); got != want {
			t.Errorf("%s: got %s, want %s", src, got, want)
		}
	}
}

// TestStatements checks how statements that share a first word are told
// apart, with expectations written out by hand.
func TestStatements(t *testing.T) {
	src := `block B(d: dim, a: act = gelu) {
    norm layer post
    norm = ffn(hidden: d)
    int n = 2
}
model M {
    norm rms
    norm(x: 1)
    head tied
    loss cross_entropy
    repeat 3 B(d: 4)
    repeat 2 [B(d: 4), B(d: 8),]
    repeat(x: 1)
    dim d = 4
    input(batch: 1, seq: 2)
}
`
	f, err := Parse("s.bf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	b := f.Decls[0].Block
	if len(b.Params) != 2 || b.Params[1].Type != "act" || group(b.Params[1].Default) != "gelu" || b.Params[0].Default != nil {
		t.Errorf("block params wrong")
	}
	if n := b.Body[0].Norm; n == nil || n.Kind.Name != "layer" || n.Placement != "post" {
		t.Errorf("body[0] is not norm layer post")
	}
	if s := b.Body[1].SubLayer; s == nil || s.Name.Name != "norm" || s.Call.Func.Name != "ffn" {
		t.Errorf("body[1] is not the sub-layer norm = ffn(...)")
	}
	if c := b.Body[2].Const; c == nil || c.Type != "int" || c.Name.Name != "n" {
		t.Errorf("body[2] is not int n")
	}
	m := f.Decls[1].Model.Body
	var kinds []string
	for _, s := range m {
		switch {
		case s.Const != nil:
			kinds = append(kinds, "const:"+s.Const.Name.Name)
		case s.Repeat != nil:
			k := "repeat:" + group(s.Repeat.Count)
			if s.Repeat.List {
				k += "[]"
			}
			for _, c := range s.Repeat.Blocks {
				k += ":" + c.Func.Name
			}
			kinds = append(kinds, k)
		case s.Norm != nil:
			kinds = append(kinds, "norm:"+s.Norm.Name)
		case s.Head != nil:
			kinds = append(kinds, "head:"+s.Head.Name)
		case s.Loss != nil:
			kinds = append(kinds, "loss:"+s.Loss.Name)
		case s.Call != nil:
			kinds = append(kinds, "call:"+s.Call.Func.Name)
		}
	}
	want := "norm:rms call:norm head:tied loss:cross_entropy repeat:3:B repeat:2[]:B:B call:repeat const:d call:input"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("model statements:\n got %s\nwant %s", got, want)
	}
}
