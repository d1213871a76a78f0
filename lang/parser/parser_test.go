package parser

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bfcdev/bfc/lang/ast"
)

var update = flag.Bool("update", false, "rewrite testdata goldens (*.ast.golden, grammar.ebnf)")

// validFiles returns the syntactically valid test inputs.
func validFiles(t testing.TB) []string {
	files, err := filepath.Glob("testdata/*.bf")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*.bf: %v", err)
	}
	return files
}

// TestGolden parses every testdata/*.bf and compares a dump of the tree,
// positions included, with testdata/*.ast.golden.
func TestGolden(t *testing.T) {
	for _, file := range validFiles(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			f, err := Parse(file, src)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			var got bytes.Buffer
			if err := ast.Fdump(&got, f); err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(file, ".bf") + ".ast.golden"
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got.String() != string(want) {
				t.Errorf("AST dump differs from %s (go test -update rewrites it):\n%s", golden, lineDiff(string(want), got.String()))
			}
		})
	}
}

// lineDiff shows the first differing line of want and got.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + itoa(i+1) + ":\n\twant: " + wl + "\n\tgot:  " + gl
		}
	}
	return "(no difference)"
}

func itoa(i int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + i%10)}, b...)
		i /= 10
		if i == 0 {
			return string(b)
		}
	}
}

func TestGrammarFile(t *testing.T) {
	got := Grammar() + "\n"
	if *update {
		if err := os.WriteFile("grammar.ebnf", []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile("grammar.ebnf")
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("grammar.ebnf is stale; run go test ./lang/parser -run GrammarFile -update:\n%s", lineDiff(string(want), got))
	}
}

func mustRead(t testing.TB, file string) []byte {
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// TestGrammarInDocs checks that the language reference shows the current
// grammar.
func TestGrammarInDocs(t *testing.T) {
	doc := string(mustRead(t, "../../docs/language.md"))
	if !strings.Contains(doc, "```ebnf\n"+Grammar()+"\n```") {
		t.Error("the ```ebnf block of docs/language.md differs from grammar.ebnf; copy it over")
	}
}

func TestTooLarge(t *testing.T) {
	src := make([]byte, maxSource+1)
	for i := range src {
		src[i] = ' '
	}
	_, err := Parse("big.bf", src)
	if err == nil || !strings.HasPrefix(err.Error(), "big.bf:1:1: file is 16777217 bytes") {
		t.Errorf("got %v", err)
	}
}
