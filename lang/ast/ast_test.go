package ast_test

import (
	"fmt"
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

const searchBase = `search S {
    baseline M
    d: [96, 128]
    moe(route: [top_k(k: [1, 2]), expert_choice(capacity: 1)])
}
dim x = [1, [2]]
`

func TestEqualSearch(t *testing.T) {
	a := parse(t, searchBase)
	if !ast.Equal(a, parse(t, "search S { baseline M d: [96, 128,] moe(route: [top_k(k: [1, 2],), expert_choice(capacity: 1)],) } dim x = [1, [2,]]")) {
		t.Error("Equal is false for the same search declaration laid out differently")
	}
	differ := map[string]string{
		"baseline":       strings.Replace(searchBase, "baseline M", "baseline N", 1),
		"search name":    strings.Replace(searchBase, "search S", "search T", 1),
		"list element":   strings.Replace(searchBase, "[96, 128]", "[96, 129]", 1),
		"list length":    strings.Replace(searchBase, "[96, 128]", "[96, 128, 192]", 1),
		"empty list":     strings.Replace(searchBase, "[96, 128]", "[]", 1),
		"list or value":  strings.Replace(searchBase, "[96, 128]", "96", 1),
		"list order":     strings.Replace(searchBase, "[96, 128]", "[128, 96]", 1),
		"nested list":    strings.Replace(searchBase, "[1, [2]]", "[1, 2]", 1),
		"nested call":    strings.Replace(searchBase, "k: [1, 2]", "k: [1, 3]", 1),
		"statement":      strings.Replace(searchBase, "moe(route", "ffn(route", 1),
		"statement kind": strings.Replace(searchBase, "    baseline M\n", "    baseline: M\n", 1),
	}
	for what, src := range differ {
		if ast.Equal(a, parse(t, src)) {
			t.Errorf("Equal is true though the %s differs", what)
		}
	}
}

func TestInspectSearch(t *testing.T) {
	var names []string
	ast.Inspect(parse(t, searchBase), func(n any) bool {
		switch n := n.(type) {
		case *ast.Ident:
			names = append(names, n.Name)
		case *ast.Primary:
			if n.Int != nil {
				names = append(names, *n.Int)
			}
		case *ast.List:
			names = append(names, fmt.Sprintf("[%d]", len(n.Elems)))
		}
		return true
	})
	got := strings.Join(names, " ")
	want := "S M d [2] 96 128 moe route [2] top_k k [2] 1 2 expert_choice capacity 1 x [2] 1 [1] 2"
	if got != want {
		t.Errorf("Inspect order:\n got %s\nwant %s", got, want)
	}
}

func TestFdumpList(t *testing.T) {
	var b strings.Builder
	if err := ast.Fdump(&b, parse(t, "search S {\n    d: [1]\n}\n").Decls[0]); err != nil {
		t.Fatal(err)
	}
	want := `Decl 1:1-3:2
  Search: Search 1:1-3:2
    Name: Ident 1:8-1:9
      Name "S"
    Body[0]: SearchStmt 2:5-2:11
      Choice: Arg 2:5-2:11
        Name: Ident 2:5-2:6
          Name "d"
        Value: Expr 2:8-2:11
          Left: Term 2:8-2:11
            Left: Unary 2:8-2:11
              Primary: Primary 2:8-2:11
                List: List 2:8-2:11
                  Elems[0]: Expr 2:9-2:10
                    Left: Term 2:9-2:10
                      Left: Unary 2:9-2:10
                        Primary: Primary 2:9-2:10
                          Int "1"
                  LBrack 2:8
                  RBrack 2:10
    LBrace 1:10
    RBrace 3:1
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
