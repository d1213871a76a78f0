package parser

import (
	"errors"
	"fmt"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"

	"github.com/bfcdev/bfc/lang/ast"
	"github.com/bfcdev/bfc/lang/source"
)

// Lexer is the token definition of .bf files.
var Lexer = lexer.MustSimple([]lexer.SimpleRule{
	{Name: "Comment", Pattern: `//[^\n]*`},
	{Name: "String", Pattern: `"(\\.|[^"\\\n])*"`},
	{Name: "Float", Pattern: `(\d+\.\d*([eE][+-]?\d+)?)|(\d+[eE][+-]?\d+)`},
	{Name: "Int", Pattern: `\d+`},
	{Name: "Ident", Pattern: `[A-Za-z_][A-Za-z0-9_]*`},
	{Name: "Punct", Pattern: `[-+*/%(){}\[\],:=]`},
	{Name: "Whitespace", Pattern: `[ \t\r\n]+`},
})

var grammar = participle.MustBuild[ast.File](
	participle.Lexer(Lexer),
	participle.Elide("Whitespace", "Comment"),
	participle.Unquote("String"),
	participle.UseLookahead(3),
)

// Grammar returns the EBNF of the .bf grammar.
func Grammar() string { return grammar.String() }

// maxSource bounds the size of a .bf file bfc accepts.
const maxSource = 16 << 20

// Parse parses one .bf file. On failure it returns a source.List with the
// syntax error at its position.
func Parse(filename string, src []byte) (*ast.File, error) {
	if len(src) > maxSource {
		var l source.List
		l.Add(source.Pos{File: filename}, "BadFile", "file is %d bytes; .bf sources are limited to %d bytes", len(src), maxSource)
		return nil, l
	}
	f, err := grammar.ParseBytes(filename, src)
	if err != nil {
		return nil, convertError(filename, src, err)
	}
	f.Name = filename
	f.Comments = comments(filename, src)
	return f, nil
}

func comments(filename string, src []byte) []*ast.Comment {
	lex, err := Lexer.LexString(filename, string(src))
	if err != nil {
		return nil
	}
	var out []*ast.Comment
	sym := Lexer.Symbols()
	for {
		tok, err := lex.Next()
		if err != nil || tok.EOF() {
			return out
		}
		if tok.Type == sym["Comment"] {
			out = append(out, &ast.Comment{Pos: tok.Pos, Text: strings.TrimRight(tok.Value, " \t\r")})
		}
	}
}

// Pos converts a participle position into a source position.
func Pos(p lexer.Position) source.Pos {
	return source.Pos{File: p.Filename, Offset: p.Offset, Line: p.Line, Col: p.Column}
}

func convertError(filename string, src []byte, err error) error {
	var l source.List
	var perr participle.Error
	if errors.As(err, &perr) {
		p := Pos(perr.Position())
		if p.File == "" {
			p.File = filename
		}
		clampPos(&p, src)
		l.Add(p, "BadSyntax", "%s", friendly(perr.Message()))
		return l
	}
	l.Add(source.Pos{File: filename, Line: 1, Col: 1}, "BadSyntax", "%v", err)
	return l
}

// clampPos keeps a diagnostic position inside the input (or at its very end).
func clampPos(p *source.Pos, src []byte) {
	if p.Offset > len(src) || p.Offset < 0 || p.Line < 1 {
		p.Offset = len(src)
		p.Line, p.Col = lineCol(src, len(src))
	}
}

func lineCol(src []byte, off int) (int, int) {
	line, col := 1, 1
	for _, c := range src[:off] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

func friendly(msg string) string {
	msg = strings.ReplaceAll(msg, "\"<EOF>\"", "end of file")
	return fmt.Sprint(msg)
}
