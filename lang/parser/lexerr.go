package parser

import (
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2/lexer"

	"github.com/bfcdev/bfc/lang/source"
)

// lexError describes the character at pos that no token matches.
func lexError(filename string, src []byte, pos lexer.Position) *source.Diagnostic {
	d := &source.Diagnostic{Pos: Pos(pos), Code: "BadSyntax"}
	if d.Pos.File == "" {
		d.Pos.File = filename
	}
	rest := src[min(pos.Offset, len(src)):]
	r, size := utf8.DecodeRune(rest)
	switch {
	case len(rest) == 0:
		d.Msg = "unexpected end of file"
	case r == '"':
		d.Msg = "string literal not terminated (strings end with \" on the same line)"
	case r == '.':
		d.Msg = "invalid character '.' (numbers are written 0.5 or 5e-1, not .5 or 1.2.3)"
	case r == '/':
		d.Msg = "invalid character '/' (comments start with //)"
	case r == utf8.RuneError && size <= 1:
		d.Msg = "invalid UTF-8 encoding"
	case r == '\uFEFF':
		d.Msg = "invalid byte order mark (save the file as UTF-8 without BOM)"
	case strconv.IsPrint(r):
		d.Msg = fmt.Sprintf("invalid character %q", r)
	default:
		d.Msg = fmt.Sprintf("invalid character %U", r)
	}
	return d
}

// checkString reports the first invalid escape sequence of a string token.
func checkString(filename string, tok *lexer.Token) *source.Diagnostic {
	s := tok.Value[1 : len(tok.Value)-1]
	for i := 0; i < len(s); {
		if s[i] != '\\' {
			i++
			continue
		}
		_, _, tail, err := strconv.UnquoteChar(s[i:], '"')
		if err != nil {
			pos := tok.Pos
			pos.Offset += 1 + i
			pos.Column += 1 + utf8.RuneCountInString(s[:i])
			end := min(i+2, len(s))
			if end < len(s) {
				_, n := utf8.DecodeRuneInString(s[i+1:])
				end = i + 1 + n
			}
			esc := s[i:end]
			if !strconv.IsPrint([]rune(esc[1:] + " ")[0]) {
				esc = strconv.Quote(esc)
			}
			d := &source.Diagnostic{Pos: Pos(pos), Code: "BadSyntax",
				Msg: fmt.Sprintf("invalid escape sequence %s in string", esc)}
			if d.Pos.File == "" {
				d.Pos.File = filename
			}
			return d
		}
		i = len(s) - len(tail)
	}
	return nil
}
