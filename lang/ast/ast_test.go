package ast_test

import (
	"strings"
	"testing"

	"github.com/bfcdev/bfc/lang/ast"
	"github.com/bfcdev/bfc/lang/parser"
)

func parse(t *testing.T, src string) *ast.File {
	t.Helper()
	f, err := parser.Parse("t.bf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

const base = `// head
dim d = 4 * (n + 1)
block B(d: dim) {
    norm rms pre
    x = ffn(hidden: d, act: gelu) // x
}
model M {
    repeat 2 [B(d: d)]
}
`

func TestEqual(t *testing.T) {
	a := parse(t, base)
	same := []string{
		base,
		// Layout and positions differ; the tree and comments do not.
		"// head\n\n\ndim d = 4*(n+1) block B(d: dim,) { norm rms pre\n x = ffn(hidden: d, act: gelu,) // x\n }\nmodel M { repeat 2 [B(d: d),] }",
	}
	for _, src := range same {
		if !ast.Equal(a, parse(t, src)) {
			t.Errorf("Equal is false for\n%s", src)
		}
	}
	differ := map[string]string{
		"literal":         strings.Replace(base, "4 *", "5 *", 1),
		"operator":        strings.Replace(base, "4 *", "4 /", 1),
		"parentheses":     strings.Replace(base, "(n + 1)", "n + 1", 1),
		"negation":        strings.Replace(base, "(n + 1)", "-(n + 1)", 1),
		"name":            strings.Replace(base, "act: gelu", "act: relu", 1),
		"argument order":  strings.Replace(base, "hidden: d, act: gelu", "act: gelu, hidden: d", 1),
		"placement":       strings.Replace(base, "norm rms pre", "norm rms", 1),
		"list":            strings.Replace(base, "[B(d: d)]", "B(d: d)", 1),
		"comment text":    strings.Replace(base, "// x", "// y", 1),
		"missing comment": strings.Replace(base, "// head\n", "", 1),
		"extra comment":   base + "// tail\n",
		"type":            strings.Replace(base, "dim d =", "int d =", 1),
	}
	for what, src := range differ {
		if ast.Equal(a, parse(t, src)) {
			t.Errorf("Equal is true though the %s differs", what)
		}
	}
	b := parse(t, base)
	b.Name = "other.bf"
	if ast.Equal(a, b) {
		t.Error("Equal ignores the file name")
	}
	if !ast.Equal(nil, nil) || ast.Equal(a, nil) {
		t.Error("Equal mishandles nil")
	}
}

func TestInspect(t *testing.T) {
	f := parse(t, base)
	var names []string
	ast.Inspect(f, func(n any) bool {
		switch n := n.(type) {
		case *ast.Ident:
			names = append(names, n.Name)
		case *ast.Comment:
			names = append(names, n.Text)
		case *ast.Model:
			return false // skip the model's contents
		}
		return true
	})
	got := strings.Join(names, " ")
	want := "d n B d rms x ffn hidden d act gelu // head // x"
	if got != want {
		t.Errorf("Inspect order:\n got %s\nwant %s", got, want)
	}
}

func TestFdump(t *testing.T) {
	var b strings.Builder
	if err := ast.Fdump(&b, parse(t, "int n = -x\n").Decls[0]); err != nil {
		t.Fatal(err)
	}
	want := `Decl 1:1-1:11
  Const: Const 1:1-1:11
    Type "int"
    Name: Ident 1:5-1:6
      Name "n"
    Value: Expr 1:9-1:11
      Left: Term 1:9-1:11
        Left: Unary 1:9-1:11
          Neg true
          Primary: Primary 1:10-1:11
            Ident: Ident 1:10-1:11
              Name "x"
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
