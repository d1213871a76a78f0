package check

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/bfcdev/bfc/lang/source"
)

// The annotated test files in testdata/.
//
// A case is a file testdata/NAME.bf, or a directory testdata/NAME/ whose
// root is main.bf (every .bf file in it may carry annotations). In a case:
//
//	// ERROR "rx"            a diagnostic on this line whose "Code: message" or message matches rx
//	// ERROR "a" ERROR "b"   two diagnostics on this line
//	// NOPOS "rx"            a diagnostic without a position (an unknown override)
//	// -set name=value       a build-time override for the run
//
// rx is a regular expression written as is (\( is a literal parenthesis);
// only \" stands for a quote. Every expected diagnostic must be reported,
// in one run, and nothing else.

var (
	errorRx = regexp.MustCompile(`\b(ERROR|NOPOS)\s+"((?:[^"\\]|\\.)*)"`)
	setRx   = regexp.MustCompile(`^\s*//\s*-set\s+([^=\s]+)=(\S*)\s*$`)
)

// expectation is one annotated diagnostic.
type expectation struct {
	file string // "" for NOPOS
	line int
	rx   *regexp.Regexp
	text string // for messages
}

// parseAnnotations reads the expectations and overrides of one file.
func parseAnnotations(filename string, src []byte) ([]expectation, map[string]string, error) {
	var exps []expectation
	sets := map[string]string{}
	for i, line := range strings.Split(string(src), "\n") {
		if m := setRx.FindStringSubmatch(line); m != nil {
			sets[m[1]] = m[2]
			continue
		}
		j := strings.Index(line, "//")
		if j < 0 {
			continue
		}
		for _, m := range errorRx.FindAllStringSubmatch(line[j:], -1) {
			pat := strings.ReplaceAll(m[2], `\"`, `"`)
			rx, err := regexp.Compile(pat)
			if err != nil {
				return nil, nil, fmt.Errorf("%s:%d: bad regexp %q: %v", filename, i+1, pat, err)
			}
			e := expectation{file: filepath.Clean(filename), line: i + 1, rx: rx, text: pat}
			if m[1] == "NOPOS" {
				e.file, e.line = "", 0
			}
			exps = append(exps, e)
		}
	}
	return exps, sets, nil
}

// matches reports whether d satisfies e.
func (e expectation) matches(d *source.Diagnostic) bool {
	if e.file == "" {
		if d.Pos.IsValid() {
			return false
		}
	} else if filepath.Clean(d.Pos.File) != e.file || d.Pos.Line != e.line {
		return false
	}
	return e.rx.MatchString(d.Code+": "+d.Msg) || e.rx.MatchString(d.Msg)
}

// verify compares diagnostics with expectations and returns every problem:
// an expectation no diagnostic meets, or a diagnostic nobody expected.
func verify(diags source.List, exps []expectation) []string {
	var problems []string
	used := make([]bool, len(diags))
	for _, e := range exps {
		found := false
		for i, d := range diags {
			if !used[i] && e.matches(d) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			where := "no position"
			if e.file != "" {
				where = fmt.Sprintf("%s:%d", e.file, e.line)
			}
			problems = append(problems, fmt.Sprintf("%s: missing error matching %q", where, e.text))
		}
	}
	for i, d := range diags {
		if !used[i] {
			problems = append(problems, fmt.Sprintf("unexpected error %s: %s", d.Code, d.Error()))
		}
	}
	return problems
}

// runCase checks one case and returns its problems.
func runCase(t *testing.T, root string, files []string) []string {
	t.Helper()
	var exps []expectation
	sets := map[string]string{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		e, s, err := parseAnnotations(f, src)
		if err != nil {
			t.Fatal(err)
		}
		exps = append(exps, e...)
		for k, v := range s {
			sets[k] = v
		}
	}
	_, diags := Check(Config{Overrides: sets}, root)
	return verify(diags, exps)
}

func TestCheckFiles(t *testing.T) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join("testdata", name)
		var root string
		var files []string
		switch {
		case e.IsDir():
			root = filepath.Join(path, "main.bf")
			fs, _ := filepath.Glob(filepath.Join(path, "*.bf"))
			sort.Strings(fs)
			files = fs
		case strings.HasSuffix(name, ".bf"):
			root, files = path, []string{path}
		default:
			continue
		}
		n++
		t.Run(strings.TrimSuffix(name, ".bf"), func(t *testing.T) {
			for _, p := range runCase(t, root, files) {
				t.Error(p)
			}
		})
	}
	if n < 10 {
		t.Fatalf("found %d cases in testdata; expected more", n)
	}
}

// TestHarnessFails makes sure the harness notices missing and unexpected
// diagnostics and reads several annotations on one line.
func TestHarnessFails(t *testing.T) {
	src := []byte("dim d = 4 // ERROR \"a\" ERROR \"b\\\"c\"\n// -set d=5\nx // NOPOS \"z\"\n")
	exps, sets, err := parseAnnotations("f.bf", src)
	if err != nil {
		t.Fatal(err)
	}
	if len(exps) != 3 || exps[0].line != 1 || exps[1].text != `b"c` || exps[2].file != "" || sets["d"] != "5" {
		t.Fatalf("parseAnnotations = %+v, %v", exps, sets)
	}
	diag := func(line int, code, msg string) *source.Diagnostic {
		return &source.Diagnostic{Pos: source.Pos{File: "f.bf", Line: line, Col: 1}, Code: code, Msg: msg}
	}
	// Both expectations of line 1 met, the NOPOS one met: no problems.
	ok := source.List{diag(1, "X", "a"), diag(1, "Y", `b"c`), {Code: "Z", Msg: "z"}}
	if p := verify(ok, exps); len(p) != 0 {
		t.Errorf("verify(matching) = %v", p)
	}
	// One diagnostic cannot meet two expectations.
	if p := verify(source.List{diag(1, "X", `a b"c`), {Code: "Z", Msg: "z"}}, exps); len(p) != 1 {
		t.Errorf("verify(one for two) = %v, want 1 problem", p)
	}
	// A diagnostic on another line is both unexpected and leaves one missing.
	if p := verify(source.List{diag(1, "X", "a"), diag(2, "Y", `b"c`), {Code: "Z", Msg: "z"}}, exps); len(p) != 2 {
		t.Errorf("verify(wrong line) = %v, want 2 problems", p)
	}
	// A code-prefixed pattern matches "Code: message".
	e := expectation{file: "f.bf", line: 1, rx: regexp.MustCompile(`^InvalidDim: d / h`)}
	if !e.matches(diag(1, "InvalidDim", "d / h: 5 is not divisible by 2")) {
		t.Error("code-prefixed pattern did not match")
	}
}
