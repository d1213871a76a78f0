package parser

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

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

// Token types of Lexer.
var (
	tokComment    = Lexer.Symbols()["Comment"]
	tokString     = Lexer.Symbols()["String"]
	tokFloat      = Lexer.Symbols()["Float"]
	tokInt        = Lexer.Symbols()["Int"]
	tokIdent      = Lexer.Symbols()["Ident"]
	tokPunct      = Lexer.Symbols()["Punct"]
	tokWhitespace = Lexer.Symbols()["Whitespace"]
)

// Grammar returns the EBNF of the .bf grammar.
func Grammar() string { return grammar.String() }

// maxSource bounds the size of a .bf file bfc accepts.
const maxSource = 16 << 20

// MaxNesting bounds how deeply parentheses and brackets may nest.
const MaxNesting = 100

// Parse parses one .bf file. On failure it returns a source.List with the
// first syntax error at its position (code BadSyntax).
func Parse(filename string, src []byte) (*ast.File, error) {
	if len(src) > maxSource {
		var l source.List
		l.Add(source.Pos{File: filename, Line: 1, Col: 1}, "BadSyntax", "file is %d bytes; .bf sources are limited to %d bytes", len(src), maxSource)
		return nil, l
	}
	toks, comments, lexErr := scan(filename, src)
	if lexErr == nil {
		lexErr = checkNesting(toks)
	}
	if lexErr != nil {
		// Report a syntax error that comes before the bad token first.
		if d := diagnose(filename, toks); d != nil && d.Pos.Offset < lexErr.Pos.Offset {
			lexErr = d
		}
		return nil, source.List{byteColumns(lexErr, src)}
	}
	f, err := grammar.ParseBytes(filename, src)
	if err != nil {
		if d := diagnose(filename, toks); d != nil {
			return nil, source.List{byteColumns(d, src)}
		}
		return nil, convertError(filename, src, err)
	}
	f.Name = filename
	f.Comments = comments
	if len(f.Imports) == 0 && len(f.Decls) == 0 {
		// No tokens: the file begins and ends at its end.
		f.Pos = toks[len(toks)-1].Pos
		f.EndPos = f.Pos
	}
	fillBrackets(f, toks)
	fixColumns(f, src)
	return f, nil
}

// byteColumns recomputes the columns of d and its notes as byte counts
// (the lexer counts runes).
func byteColumns(d *source.Diagnostic, src []byte) *source.Diagnostic {
	fix := func(p *source.Pos) {
		if p.IsValid() && p.Offset >= 0 && p.Offset <= len(src) {
			p.Line, p.Col = lineCol(src, p.Offset)
		}
	}
	fix(&d.Pos)
	for i := range d.Notes {
		fix(&d.Notes[i].Pos)
	}
	return d
}

// fixColumns turns the lexer's rune columns of every position in f into
// byte columns, as source.Pos documents. Only a file with non-ASCII text (in
// strings or comments) needs it.
func fixColumns(f *ast.File, src []byte) {
	if !slices.ContainsFunc(src, func(b byte) bool { return b >= utf8.RuneSelf }) {
		return
	}
	starts := []int{0}
	for i, b := range src {
		if b == '\n' {
			starts = append(starts, i+1)
		}
	}
	ast.Inspect(f, func(n any) bool {
		v := reflect.ValueOf(n).Elem()
		for i := 0; i < v.NumField(); i++ {
			fv := v.Field(i)
			if fv.Type() != reflect.TypeFor[lexer.Position]() {
				continue
			}
			p := fv.Addr().Interface().(*lexer.Position)
			if p.Line >= 1 && p.Line <= len(starts) && p.Offset >= starts[p.Line-1] {
				p.Column = p.Offset - starts[p.Line-1] + 1
			}
		}
		return true
	})
}

// scan lexes src into its significant tokens (ending with EOF) and its
// comments. On a lexical error the tokens end with an EOF token at the
// error's position and the error is returned.
func scan(filename string, src []byte) ([]lexer.Token, []*ast.Comment, *source.Diagnostic) {
	lex, err := Lexer.LexString(filename, string(src))
	if err != nil {
		return nil, nil, &source.Diagnostic{Pos: source.Pos{File: filename, Line: 1, Col: 1}, Code: "BadSyntax", Msg: err.Error()}
	}
	var (
		toks     []lexer.Token
		comments []*ast.Comment
	)
	for {
		tok, err := lex.Next()
		if err != nil {
			var lerr *lexer.Error
			pos := lexer.Position{Filename: filename, Offset: len(src)}
			if errors.As(err, &lerr) {
				pos = lerr.Pos
			}
			d := lexError(filename, src, pos)
			toks = append(toks, lexer.EOFToken(pos))
			return toks, comments, d
		}
		switch tok.Type {
		case tokWhitespace:
			continue
		case tokComment:
			comments = append(comments, &ast.Comment{Pos: tok.Pos, Text: strings.TrimRight(tok.Value, " \t\r")})
			continue
		case tokString:
			if d := checkString(filename, &tok); d != nil {
				end := tok.Pos
				end.Advance(tok.Value)
				toks = append(toks, tok, lexer.EOFToken(end))
				return toks, comments, d
			}
		}
		toks = append(toks, tok)
		if tok.EOF() {
			return toks, comments, nil
		}
	}
}

// Pos converts a participle position into a source position.
func Pos(p lexer.Position) source.Pos {
	return source.Pos{File: p.Filename, Offset: p.Offset, Line: p.Line, Col: p.Column}
}

// checkNesting reports brackets nested deeper than MaxNesting.
func checkNesting(toks []lexer.Token) *source.Diagnostic {
	depth := 0
	for _, t := range toks {
		if t.Type != tokPunct {
			continue
		}
		switch t.Value {
		case "(", "[", "{":
			depth++
			if depth > MaxNesting {
				return &source.Diagnostic{Pos: Pos(t.Pos), Code: "BadSyntax",
					Msg: fmt.Sprintf("brackets nested more than %d deep", MaxNesting)}
			}
		case ")", "]", "}":
			depth--
		}
	}
	return nil
}

// fillBrackets records the positions of brackets, which the grammar does
// not capture, in the nodes that have them.
func fillBrackets(f *ast.File, toks []lexer.Token) {
	// next returns the first token with the given value at or after off.
	next := func(value string, off int) lexer.Position {
		i := sort.Search(len(toks), func(i int) bool { return toks[i].Pos.Offset >= off })
		for ; i < len(toks); i++ {
			if toks[i].Type == tokPunct && toks[i].Value == value {
				return toks[i].Pos
			}
		}
		return lexer.Position{}
	}
	closing := func(end lexer.Position) lexer.Position {
		p := end
		p.Offset--
		p.Column--
		return p
	}
	ast.Inspect(f, func(n any) bool {
		switch n := n.(type) {
		case *ast.Block:
			n.LParen = next("(", n.Name.EndPos.Offset)
			after := n.LParen.Offset + 1
			if len(n.Params) > 0 {
				after = n.Params[len(n.Params)-1].EndPos.Offset
			}
			n.RParen = next(")", after)
			n.LBrace = next("{", n.RParen.Offset+1)
			n.RBrace = closing(n.EndPos)
		case *ast.Model:
			n.LBrace = next("{", n.Name.EndPos.Offset)
			n.RBrace = closing(n.EndPos)
		case *ast.Search:
			n.LBrace = next("{", n.Name.EndPos.Offset)
			n.RBrace = closing(n.EndPos)
		case *ast.Call:
			n.LParen = next("(", n.Func.EndPos.Offset)
			n.RParen = closing(n.EndPos)
		case *ast.Repeat:
			if n.List {
				n.LBrack = next("[", n.Count.EndPos.Offset)
				n.RBrack = closing(n.EndPos)
			}
		case *ast.List:
			n.LBrack = next("[", n.Pos.Offset)
			n.RBrack = closing(n.EndPos)
		}
		return true
	})
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
