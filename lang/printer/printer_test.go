package printer

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bfcdev/bfc/lang/ast"
	"github.com/bfcdev/bfc/lang/parser"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from testdata/*.input")

func mustRead(t testing.TB, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGolden formats every testdata/*.input and compares the result with
// the matching .golden file.
func TestGolden(t *testing.T) {
	inputs, _ := filepath.Glob("testdata/*.input")
	if len(inputs) == 0 {
		t.Fatal("no testdata/*.input")
	}
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			got, err := Format(in, mustRead(t, in))
			if err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(in, ".input") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if want := mustRead(t, golden); !bytes.Equal(got, want) {
				t.Errorf("Format(%s) differs from %s (go test -update rewrites it):\n%s", in, golden, diff(string(want), string(got)))
			}
		})
	}
}

// canonicalFiles are files that must already be in canonical form: the
// goldens.
func canonicalFiles(t testing.TB) []string {
	files, _ := filepath.Glob("testdata/*.golden")
	if len(files) == 0 {
		t.Fatal("no testdata/*.golden")
	}
	return files
}

// TestIdempotent checks that formatting a golden changes nothing.
func TestIdempotent(t *testing.T) {
	for _, file := range canonicalFiles(t) {
		src := mustRead(t, file)
		got, err := Format(file, src)
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		if !bytes.Equal(got, src) {
			t.Errorf("%s is not a fixed point of Format:\n%s", file, diff(string(src), string(got)))
		}
	}
}

// allInputs are every .bf-like test file of lang: printer inputs and
// goldens, and the parser's valid files.
func allInputs(t testing.TB) []string {
	var files []string
	for _, pat := range []string{"testdata/*.input", "testdata/*.golden", "../parser/testdata/*.bf"} {
		m, _ := filepath.Glob(pat)
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatal("no test inputs")
	}
	return files
}

// TestRoundTrip checks parse → print → parse gives an equal tree with the
// same comments, and that printing is then stable.
func TestRoundTrip(t *testing.T) {
	for _, file := range allInputs(t) {
		if err := roundTrip(file, mustRead(t, file)); err != "" {
			t.Errorf("%s: %s", file, err)
		}
	}
}

// roundTrip returns "" when src (which must parse) survives printing.
func roundTrip(name string, src []byte) string {
	f1, err := parser.Parse(name, src)
	if err != nil {
		return "parse: " + err.Error()
	}
	var out1 bytes.Buffer
	if err := Fprint(&out1, f1); err != nil {
		return "print: " + err.Error()
	}
	f2, err := parser.Parse(name, out1.Bytes())
	if err != nil {
		return "re-parse of the output: " + err.Error() + "\noutput:\n" + out1.String()
	}
	if !ast.Equal(f1, f2) {
		var d1, d2 bytes.Buffer
		ast.Fdump(&d1, f1)
		ast.Fdump(&d2, f2)
		return "trees differ after printing:\n" + diff(stripPositions(d1.String()), stripPositions(d2.String())) + "\noutput:\n" + out1.String()
	}
	var out2 bytes.Buffer
	if err := Fprint(&out2, f2); err != nil {
		return "second print: " + err.Error()
	}
	if out1.String() != out2.String() {
		return "printing is not idempotent:\n" + diff(out1.String(), out2.String())
	}
	return ""
}

// stripPositions removes line:col ranges from an ast.Fdump.
func stripPositions(dump string) string {
	var b strings.Builder
	for _, line := range strings.Split(dump, "\n") {
		fields := strings.Fields(line)
		if len(fields) > 0 && strings.ContainsAny(fields[len(fields)-1], ":") && strings.IndexFunc(fields[len(fields)-1], func(r rune) bool { return r != ':' && r != '-' && (r < '0' || r > '9') }) < 0 {
			line = strings.TrimSuffix(line, fields[len(fields)-1])
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// diff shows the first differing line of want and got, with context.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		if i >= len(w) || i >= len(g) || w[i] != g[i] {
			var b strings.Builder
			b.WriteString("first difference at line " + itoa(i+1) + "\n--- want\n")
			for j := max(0, i-2); j < min(len(w), i+3); j++ {
				b.WriteString("\t" + w[j] + "\n")
			}
			b.WriteString("--- got\n")
			for j := max(0, i-2); j < min(len(g), i+3); j++ {
				b.WriteString("\t" + g[j] + "\n")
			}
			return b.String()
		}
	}
	return "(no difference)"
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
