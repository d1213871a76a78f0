package printer

import (
	"bytes"
	"strings"
	"testing"

	"github.com/bfcdev/bfc/lang/ast"
)

func ident(s string) *ast.Ident { return &ast.Ident{Name: s} }

func num(s string) *ast.Expr {
	return &ast.Expr{Left: &ast.Term{Left: &ast.Unary{Primary: &ast.Primary{Int: &s}}}}
}

func list(elems ...*ast.Expr) *ast.Expr {
	return &ast.Expr{Left: &ast.Term{Left: &ast.Unary{Primary: &ast.Primary{List: &ast.List{Elems: elems}}}}}
}

func ref(s string) *ast.Expr {
	return &ast.Expr{Left: &ast.Term{Left: &ast.Unary{Primary: &ast.Primary{Ident: ident(s)}}}}
}

// TestFprintBuiltTree prints a tree built in code, without positions.
func TestFprintBuiltTree(t *testing.T) {
	four := "4"
	f := &ast.File{
		Imports: []*ast.Import{{Path: "std/transformer.bf"}},
		Decls: []*ast.Decl{
			{Const: &ast.Const{Type: "dim", Name: ident("d"), Value: num("64")}},
			{Const: &ast.Const{Type: "dim", Name: ident("h"), Value: &ast.Expr{
				Left: &ast.Term{Left: &ast.Unary{Primary: &ast.Primary{Int: &four}},
					Ops: []*ast.MulOp{{Op: "*", Right: &ast.Unary{Primary: &ast.Primary{Ident: ident("d")}}}}},
				Ops: []*ast.AddOp{{Op: "-", Right: &ast.Term{Left: &ast.Unary{Neg: true, Primary: &ast.Primary{Paren: num("1")}}}}},
			}}},
			{Block: &ast.Block{Name: ident("B"), Params: []*ast.Param{{Name: ident("d"), Type: "dim", Default: num("8")}},
				Body: []*ast.BlockStmt{
					{Norm: &ast.NormDefault{Kind: ident("rms"), Placement: "pre"}},
					{SubLayer: &ast.SubLayer{Name: ident("mlp"), Call: &ast.Call{Func: ident("ffn"),
						Args: []*ast.Arg{{Name: ident("hidden"), Value: ref("h")}, {Name: ident("act"), Value: ref("swiglu")}}}}},
				}}},
			{Model: &ast.Model{Name: ident("M"), Body: []*ast.ModelStmt{
				{Repeat: &ast.Repeat{Count: num("2"), List: true, Blocks: []*ast.Call{{Func: ident("B")}, {Func: ident("B"), Args: []*ast.Arg{{Name: ident("d"), Value: ref("d")}}}}}},
				{Head: ident("tied")},
			}}},
			{Search: &ast.Search{Name: ident("S"), Body: []*ast.SearchStmt{
				{Baseline: ident("M")},
				{Choice: &ast.Arg{Name: ident("blocks"), Value: list(num("1"), num("2"))}},
				{Choice: &ast.Arg{Name: ident("kinds"), Value: list()}},
				{Kind: &ast.Call{Func: ident("moe"), Args: []*ast.Arg{
					{Name: ident("route"), Value: list(
						&ast.Expr{Left: &ast.Term{Left: &ast.Unary{Primary: &ast.Primary{Call: &ast.Call{Func: ident("top_k"),
							Args: []*ast.Arg{{Name: ident("k"), Value: list(num("1"), list(ref("x")))}}}}}}},
					)},
				}}},
			}}},
			{Search: &ast.Search{Name: ident("Empty")}},
		},
		Comments: []*ast.Comment{{Text: "// no position"}},
	}
	var buf bytes.Buffer
	if err := Fprint(&buf, f); err != nil {
		t.Fatal(err)
	}
	want := `import "std/transformer.bf"

dim d = 64
dim h = 4 * d - -(1)

block B(d: dim = 8) {
    norm rms pre
    mlp = ffn(hidden: h, act: swiglu)
}

model M {
    repeat 2 [B(), B(d: d)]
    head tied
}

search S {
    baseline M
    blocks: [1, 2]
    kinds: []
    moe(route: [top_k(k: [1, [x]])])
}

search Empty {}
// no position
`
	if got := buf.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// TestFprintInvalid checks that trees the grammar cannot produce give an
// error, not a panic.
func TestFprintInvalid(t *testing.T) {
	for _, f := range []*ast.File{
		{Decls: []*ast.Decl{{}}},
		{Decls: []*ast.Decl{nil}},
		{Decls: []*ast.Decl{{Const: &ast.Const{Type: "dim", Name: ident("d")}}}},
		{Decls: []*ast.Decl{{Const: &ast.Const{Type: "dim", Value: num("1")}}}},
		{Decls: []*ast.Decl{{Model: &ast.Model{Name: ident("M"), Body: []*ast.ModelStmt{{Repeat: &ast.Repeat{Count: num("1")}}}}}}},
		{Decls: []*ast.Decl{{Model: &ast.Model{Name: ident("M"), Body: []*ast.ModelStmt{{}}}}}},
		{Decls: []*ast.Decl{{Const: &ast.Const{Type: "int", Name: ident("x"), Value: &ast.Expr{Left: &ast.Term{Left: &ast.Unary{Primary: &ast.Primary{}}}}}}}},
		{Decls: []*ast.Decl{{Const: &ast.Const{Type: "int", Name: ident("x"), Value: list(num("1"), nil)}}}},
		{Decls: []*ast.Decl{{Search: &ast.Search{Name: ident("S"), Body: []*ast.SearchStmt{{}}}}}},
		{Decls: []*ast.Decl{{Search: &ast.Search{Name: ident("S"), Body: []*ast.SearchStmt{nil}}}}},
		{Decls: []*ast.Decl{{Search: &ast.Search{Body: []*ast.SearchStmt{{Baseline: ident("M")}}}}}},
		{Decls: []*ast.Decl{{Search: &ast.Search{Name: ident("S"), Body: []*ast.SearchStmt{{Baseline: ident("")}}}}}},
	} {
		err := Fprint(&bytes.Buffer{}, f)
		if err == nil || !strings.Contains(err.Error(), "invalid syntax tree") {
			t.Errorf("Fprint of an invalid tree: err = %v", err)
		}
	}
	if err := Fprint(&bytes.Buffer{}, nil); err == nil {
		t.Error("Fprint(nil) succeeded")
	}
}

// TestFormatError checks that Format passes syntax errors through.
func TestFormatError(t *testing.T) {
	out, err := Format("x.bf", []byte("model M {\n    head\n}\n"))
	if err == nil || out != nil {
		t.Fatalf("Format of a bad file: %q, %v", out, err)
	}
	if want := "x.bf:3:1: unexpected \"}\", expected the head: tied or untied"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}
