package parser

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/bfcdev/bfc/lang/ast"
	"github.com/bfcdev/bfc/lang/source"
)

// addSeeds adds every test input of the package to the fuzz corpus.
func addSeeds(f *testing.F) {
	for _, file := range validFiles(f) {
		f.Add(mustRead(f, file))
	}
	for _, c := range readArchive(f, "testdata/errors.txtar") {
		f.Add(c.Data)
	}
	more, _ := filepath.Glob("../printer/testdata/*.input")
	for _, file := range more {
		f.Add(mustRead(f, file))
	}
}

// FuzzParse checks that Parse never panics, that its errors are positioned
// inside the input, that the recogniser behind the error messages accepts
// exactly the files the grammar accepts, and that the positions of a parsed
// tree are consistent with the input.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := Parse("f.bf", src)
		if err != nil {
			checkErrorPositions(t, src, err)
		} else {
			checkTreePositions(t, src, file)
		}
		toks, _, lexErr := scan("f.bf", src)
		if lexErr != nil || checkNesting(toks) != nil {
			return
		}
		_, perr := grammar.ParseBytes("f.bf", src)
		if d := diagnose("f.bf", toks); (d == nil) != (perr == nil) {
			t.Fatalf("grammar and recogniser disagree on %q:\ngrammar: %v\nrecogniser: %v", src, perr, d)
		}
	})
}

func checkErrorPositions(t *testing.T, src []byte, err error) {
	var list source.List
	if !errors.As(err, &list) || len(list) == 0 {
		t.Fatalf("error %T %v is not a non-empty source.List", err, err)
	}
	lines := strings.Count(string(src), "\n") + 1
	for _, d := range list {
		p := d.Pos
		if p.File != "f.bf" || p.Line < 1 || p.Line > lines+1 || p.Col < 1 || p.Offset < 0 || p.Offset > len(src) {
			t.Fatalf("diagnostic %q at a position outside the input (%d lines, %d bytes): %+v", d.Msg, lines, len(src), p)
		}
		if d.Code != "BadSyntax" {
			t.Fatalf("diagnostic code %q", d.Code)
		}
		if d.Msg == "" || strings.Contains(d.Msg, "\n") {
			t.Fatalf("message %q is not one line", d.Msg)
		}
		if l, c := lineCol(src, p.Offset); l != p.Line || c != p.Col {
			t.Fatalf("diagnostic %q: line:col %d:%d, but offset %d is at %d:%d", d.Msg, p.Line, p.Col, p.Offset, l, c)
		}
	}
}

// checkTreePositions checks every position of the tree against src: inside
// the input, line:col agreeing with the offset (in bytes), each node's start
// no later than its end, and the recorded brackets on bracket characters.
func checkTreePositions(t *testing.T, src []byte, f *ast.File) {
	check := func(what string, p lexer.Position) {
		if p.Offset < 0 || p.Offset > len(src) {
			t.Fatalf("%s: offset %d outside the input", what, p.Offset)
		}
		if l, c := lineCol(src, p.Offset); l != p.Line || c != p.Column {
			t.Fatalf("%s: line:col %d:%d, but offset %d is at %d:%d", what, p.Line, p.Column, p.Offset, l, c)
		}
	}
	at := func(what string, p lexer.Position, ch byte) {
		check(what, p)
		if p.Offset >= len(src) || src[p.Offset] != ch {
			t.Fatalf("%s at offset %d is not %q", what, p.Offset, ch)
		}
	}
	ast.Inspect(f, func(n any) bool {
		v := reflect.ValueOf(n).Elem()
		name := v.Type().Name()
		for i := 0; i < v.NumField(); i++ {
			if p, ok := v.Field(i).Interface().(lexer.Position); ok && p != (lexer.Position{}) {
				check(name+"."+v.Type().Field(i).Name, p)
			}
		}
		if pos, end := v.FieldByName("Pos"), v.FieldByName("EndPos"); pos.IsValid() && end.IsValid() {
			if e, p := end.Interface().(lexer.Position), pos.Interface().(lexer.Position); e.Offset < p.Offset {
				t.Fatalf("%s ends (%d) before it starts (%d)", name, e.Offset, p.Offset)
			}
		}
		switch n := n.(type) {
		case *ast.Block:
			at("Block.LParen", n.LParen, '(')
			at("Block.RParen", n.RParen, ')')
			at("Block.LBrace", n.LBrace, '{')
			at("Block.RBrace", n.RBrace, '}')
		case *ast.Model:
			at("Model.LBrace", n.LBrace, '{')
			at("Model.RBrace", n.RBrace, '}')
		case *ast.Search:
			at("Search.LBrace", n.LBrace, '{')
			at("Search.RBrace", n.RBrace, '}')
		case *ast.List:
			at("List.LBrack", n.LBrack, '[')
			at("List.RBrack", n.RBrack, ']')
		case *ast.Call:
			at("Call.LParen", n.LParen, '(')
			at("Call.RParen", n.RParen, ')')
		case *ast.Repeat:
			if n.List {
				at("Repeat.LBrack", n.LBrack, '[')
				at("Repeat.RBrack", n.RBrack, ']')
			}
		case *ast.Comment:
			if !strings.HasPrefix(string(src[n.Pos.Offset:]), n.Text) {
				t.Fatalf("comment %q is not at offset %d", n.Text, n.Pos.Offset)
			}
		}
		return true
	})
}
