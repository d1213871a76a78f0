package check

import (
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// codeExample is the example in a code's doc comment.
type codeExample struct {
	files     map[string]string
	root      string
	overrides map[string]string
}

var exampleRx = regexp.MustCompile(`^Example(?: \(([^)]*)\))?:$`)

// readCatalogue returns each code constant of codes.go with its example.
func readCatalogue(t *testing.T) map[string]*codeExample {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "codes.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*codeExample{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			name := vs.Names[0].Name
			lit, ok := vs.Values[0].(*ast.BasicLit)
			if !ok {
				t.Fatalf("%s: value is not a string literal", name)
			}
			if v, _ := strconv.Unquote(lit.Value); v != name {
				t.Errorf("code %s has value %q; the value must be the name", name, v)
			}
			out[name] = parseExample(t, name, vs.Doc.Text())
		}
	}
	return out
}

// parseExample extracts the tab-indented example after "Example:".
func parseExample(t *testing.T, code, doc string) *codeExample {
	var ex *codeExample
	var body []string
	for _, line := range strings.Split(doc, "\n") {
		if ex == nil {
			if m := exampleRx.FindStringSubmatch(line); m != nil {
				ex = &codeExample{files: map[string]string{}, overrides: map[string]string{}}
				for _, f := range strings.Fields(m[1]) {
					if k, v, ok := strings.Cut(strings.TrimPrefix(f, "-set="), "="); ok && f != "-set" {
						ex.overrides[k] = v
					}
				}
			}
			continue
		}
		if strings.HasPrefix(line, "\t") {
			body = append(body, strings.TrimPrefix(line, "\t"))
		}
	}
	if ex == nil || len(body) == 0 {
		t.Errorf("code %s has no example", code)
		return nil
	}
	name := "example.bf"
	for _, line := range body {
		if strings.HasPrefix(line, "-- ") && strings.HasSuffix(line, " --") {
			name = strings.TrimSuffix(strings.TrimPrefix(line, "-- "), " --")
			if ex.root == "" {
				ex.root = name
			}
			continue
		}
		ex.files[name] += line + "\n"
	}
	if ex.root == "" {
		ex.root = name
	}
	return ex
}

// TestCodeExamples checks that every code's documented example produces
// that code, and that the catalogue lists every code.
func TestCodeExamples(t *testing.T) {
	cat := readCatalogue(t)
	if len(cat) != len(codes) {
		t.Errorf("codes.go declares %d codes, the codes list has %d", len(cat), len(codes))
	}
	for _, code := range codes {
		ex := cat[code]
		if ex == nil {
			t.Errorf("code %s: no example", code)
			continue
		}
		t.Run(code, func(t *testing.T) {
			_, diags := Check(Config{ReadFile: mapFiles(ex.files), Overrides: ex.overrides}, ex.root)
			found := false
			for _, d := range diags {
				if d.Code == code {
					found = true
				}
				if d.Msg == "" || strings.HasSuffix(d.Msg, ".") || d.Msg[0] >= 'A' && d.Msg[0] <= 'Z' {
					t.Errorf("message style: %q (lowercase, no trailing period)", d.Msg)
				}
			}
			if !found {
				t.Errorf("example of %s gave %v", code, diags)
			}
		})
	}
}
