package parser

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bfcdev/bfc/lang/source"
)

// errorCase is one annotated file of testdata/errors.txtar.
type errorCase struct {
	name string
	src  []byte
	line int // 1-based line of the ERROR comment
	col  int // expected column, 0 for any column within the line
	eof  bool
	re   *regexp.Regexp
}

var errorRx = regexp.MustCompile("// ERROR (?:(col=[0-9]+|EOF) )?(\"(?:[^\"\\\\]|\\\\.)*\"|`[^`]*`)\\s*$")

func loadErrorCases(t testing.TB) []errorCase {
	var cases []errorCase
	for _, f := range readArchive(t, "testdata/errors.txtar") {
		c := errorCase{name: f.Name, src: f.Data}
		for i, line := range strings.Split(string(f.Data), "\n") {
			m := errorRx.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			if c.re != nil {
				t.Fatalf("%s: more than one ERROR annotation", f.Name)
			}
			c.line = i + 1
			switch {
			case m[1] == "EOF":
				c.eof = true
			case m[1] != "":
				c.col, _ = strconv.Atoi(strings.TrimPrefix(m[1], "col="))
			}
			pat, err := strconv.Unquote(m[2])
			if err != nil {
				t.Fatalf("%s:%d: bad pattern %s: %v", f.Name, c.line, m[2], err)
			}
			c.re = regexp.MustCompile(pat)
		}
		if c.re == nil {
			t.Fatalf("%s: no ERROR annotation", f.Name)
		}
		cases = append(cases, c)
	}
	return cases
}

// TestErrors checks that each annotated file fails with exactly one
// BadSyntax diagnostic, in the file, on the annotated line (and column),
// whose message matches the annotation.
func TestErrors(t *testing.T) {
	for _, c := range loadErrorCases(t) {
		t.Run(c.name, func(t *testing.T) {
			f, err := Parse(c.name, c.src)
			if err == nil {
				t.Fatalf("parsed without error: %d decls", len(f.Decls))
			}
			var list source.List
			if !errors.As(err, &list) || len(list) != 1 {
				t.Fatalf("want a source.List with one diagnostic, got %T: %v", err, err)
			}
			d := list[0]
			if d.Code != "BadSyntax" {
				t.Errorf("code %q, want BadSyntax", d.Code)
			}
			if d.Pos.File != c.name {
				t.Errorf("file %q, want %q", d.Pos.File, c.name)
			}
			if !c.re.MatchString(d.Msg) {
				t.Errorf("message %q does not match %q", d.Msg, c.re)
			}
			lines := strings.Split(string(c.src), "\n")
			switch {
			case c.eof:
				if d.Pos.Offset != len(c.src) {
					t.Errorf("error at %s (offset %d), want the end of file (offset %d)", d.Pos, d.Pos.Offset, len(c.src))
				}
			case d.Pos.Line != c.line:
				t.Errorf("error at %s, want line %d", d.Pos, c.line)
			case c.col != 0 && d.Pos.Col != c.col:
				t.Errorf("error at %s, want column %d", d.Pos, c.col)
			case d.Pos.Col < 1 || d.Pos.Col > len(lines[c.line-1])+1:
				t.Errorf("error at %s: column outside line %q", d.Pos, lines[c.line-1])
			}
			if want := lineStart(c.src, d.Pos.Line) + d.Pos.Col - 1; !c.eof && d.Pos.Offset != want {
				t.Errorf("offset %d does not match line:col %d:%d (offset %d)", d.Pos.Offset, d.Pos.Line, d.Pos.Col, want)
			}
			if !utf8.ValidString(d.Msg) || strings.Contains(d.Msg, "\n") {
				t.Errorf("message %q is not one line of text", d.Msg)
			}
		})
	}
}

func lineStart(src []byte, line int) int {
	off := 0
	for l := 1; l < line; l++ {
		i := strings.IndexByte(string(src[off:]), '\n')
		if i < 0 {
			return len(src)
		}
		off += i + 1
	}
	return off
}

// TestErrorNotes checks the note that points at an unclosed bracket.
func TestErrorNotes(t *testing.T) {
	src := "block B(d: dim) {\n    a = attention(heads: 4\n}\n"
	_, err := Parse("b.bf", []byte(src))
	var list source.List
	if !errors.As(err, &list) || len(list) != 1 {
		t.Fatalf("want one diagnostic, got %v", err)
	}
	got := list[0].Error()
	want := "b.bf:3:1: unexpected \"}\", expected \",\" or \")\" in the arguments of attention\n\tb.bf:2:18: ( opened here"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestListErrorNotes checks the notes that point at the bracket of an
// unclosed list and the brace of an unclosed search declaration.
func TestListErrorNotes(t *testing.T) {
	for src, want := range map[string]string{
		"search S {\n    d: [96, 128\n}\n":        "s.bf:3:1: unexpected \"}\", expected \",\" or \"]\" in the list\n\ts.bf:2:8: [ opened here",
		"search S {\n    d: [96,\n}\n":            "s.bf:3:1: unexpected \"}\", expected a value or \"]\" in the list\n\ts.bf:2:8: [ opened here",
		"search S {\n    ffn(hidden: [1, 2)\n}\n": "s.bf:2:22: unexpected \")\", expected \",\" or \"]\" in the list\n\ts.bf:2:17: [ opened here",
		"search S {\n    baseline M\n":            "s.bf:3:1: unexpected end of file, expected \"}\" to close search S\n\ts.bf:1:10: { opened here",
	} {
		_, err := Parse("s.bf", []byte(src))
		var list source.List
		if !errors.As(err, &list) || len(list) != 1 {
			t.Errorf("%q: want one diagnostic, got %v", src, err)
			continue
		}
		if got := list[0].Error(); got != want {
			t.Errorf("%q: got\n%s\nwant\n%s", src, got, want)
		}
	}
}

// TestErrorsAgree checks that the recogniser that words syntax errors finds
// an error in exactly the error cases, and none in the valid files.
func TestErrorsAgree(t *testing.T) {
	for _, c := range loadErrorCases(t) {
		toks, _, lexErr := scan(c.name, c.src)
		if lexErr != nil || checkNesting(toks) != nil {
			continue
		}
		if d := diagnose(c.name, toks); d == nil {
			t.Errorf("%s: recogniser accepts a file the grammar rejects", c.name)
		}
	}
	for _, file := range validFiles(t) {
		src := mustRead(t, file)
		toks, _, lexErr := scan(file, src)
		if lexErr != nil {
			t.Fatalf("%s: %v", file, lexErr)
		}
		if d := diagnose(file, toks); d != nil {
			t.Errorf("%s: recogniser rejects a valid file: %v", file, d)
		}
	}
}

func ExampleParse() {
	_, err := Parse("m.bf", []byte("model M {\n    embed(vocab, d)\n}\n"))
	fmt.Println(err)
	// Output:
	// m.bf:2:16: unexpected ",", expected ":" after vocab: arguments are written name: value
}

type archiveFile struct {
	Name string
	Data []byte
}

// readArchive reads a txtar archive: a comment, then files, each introduced
// by a line "-- NAME --".
func readArchive(t testing.TB, path string) []archiveFile {
	var files []archiveFile
	for _, line := range strings.SplitAfter(string(mustRead(t, path)), "\n") {
		if name, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), "-- "); ok && strings.HasSuffix(name, " --") {
			files = append(files, archiveFile{Name: strings.TrimSuffix(name, " --")})
			continue
		}
		if len(files) > 0 {
			files[len(files)-1].Data = append(files[len(files)-1].Data, line...)
		}
	}
	if len(files) == 0 {
		t.Fatalf("%s: no files", path)
	}
	return files
}
