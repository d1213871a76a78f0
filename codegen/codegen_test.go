package codegen_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/bfcdev/bfc/codegen"
	"github.com/bfcdev/bfc/compiler"
	"github.com/bfcdev/bfc/compiler/ir"
	"github.com/bfcdev/bfc/compiler/plan"
)

var update = flag.Bool("update", false, "rewrite the golden files and the committed e2e packages")

// compile compiles the one model of a .bf file.
func compile(t *testing.T, path string, noBackward bool) *ir.Program {
	t.Helper()
	progs, diags := compiler.Compile(compiler.Options{NoBackward: noBackward}, path)
	if len(diags) > 0 {
		t.Fatalf("%s:\n%v", path, diags)
	}
	if len(progs) != 1 {
		t.Fatalf("%s: %d models, want 1", path, len(progs))
	}
	return progs[0]
}

// generate compiles, plans and generates one model.
func generate(t *testing.T, path string, opts codegen.Options) []codegen.File {
	t.Helper()
	return generateWith(t, path, opts, plan.Options{})
}

// generateWith is generate with planner options.
func generateWith(t *testing.T, path string, opts codegen.Options, popts plan.Options) []codegen.File {
	t.Helper()
	p := compile(t, path, opts.InferenceOnly)
	l, err := plan.PlanWith(p, popts)
	if err != nil {
		t.Fatal(err)
	}
	files, err := codegen.Generate(p, l, opts)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// check compares files with those in dir, or writes them with -update.
// Files in dir that Generate no longer produces are reported (and removed
// with -update).
func check(t *testing.T, dir string, files []codegen.File) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]bool{}
	for _, f := range files {
		want[f.Name] = true
		path := filepath.Join(dir, f.Name)
		if *update {
			if err := os.WriteFile(path, f.Data, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		old, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v (run go test ./codegen -update)", err)
			continue
		}
		if !bytes.Equal(old, f.Data) {
			t.Errorf("%s differs from what codegen generates now (run go test ./codegen -update):\n%s", path, diff(old, f.Data))
		}
	}
	old, _ := filepath.Glob(filepath.Join(dir, "*.bf.go"))
	for _, path := range old {
		if want[filepath.Base(path)] {
			continue
		}
		if *update {
			os.Remove(path)
		} else {
			t.Errorf("%s is no longer generated", path)
		}
	}
}

// diff shows the first differing line of two texts with some context.
func diff(a, b []byte) string {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y || i >= len(al) || i >= len(bl) {
			return "line " + strconv.Itoa(i+1) + ":\n\thave: " + x + "\n\twant: " + y
		}
	}
	return ""
}

// goldenCase is one directory of testdata: input.bf, an optional
// options.json (codegen.Options; Package defaults to the directory name,
// Source to input.bf) and want/ holding the expected files.
type goldenCase struct {
	name string
	dir  string
	opts codegen.Options
}

func goldenCases(t *testing.T) []goldenCase {
	t.Helper()
	dirs, err := filepath.Glob("testdata/*/input.bf")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	var cases []goldenCase
	for _, in := range dirs {
		dir := filepath.Dir(in)
		c := goldenCase{name: filepath.Base(dir), dir: dir}
		if data, err := os.ReadFile(filepath.Join(dir, "options.json")); err == nil {
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&c.opts); err != nil {
				t.Fatalf("%s/options.json: %v", dir, err)
			}
		}
		if c.opts.Package == "" {
			c.opts.Package = c.name
		}
		if c.opts.Source == "" {
			c.opts.Source = "input.bf"
		}
		cases = append(cases, c)
	}
	return cases
}

func TestGolden(t *testing.T) {
	for _, c := range goldenCases(t) {
		t.Run(c.name, func(t *testing.T) {
			check(t, filepath.Join(c.dir, "want"), generate(t, filepath.Join(c.dir, "input.bf"), c.opts))
		})
	}
}

// TestGoldenBuild builds and vets every golden package in a temporary
// module that uses this repository's runtime, with cgo off.
func TestGoldenBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds generated code")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	gomod := "module bfcgolden\n\ngo 1.26.8\n\nrequire github.com/bfcdev/bfc v0.0.0\n\nreplace github.com/bfcdev/bfc => " + root + "\n"
	if err := os.WriteFile(filepath.Join(tmp, "go.mod"), []byte(gomod), 0o644); err != nil {
		t.Fatal(err)
	}
	if sum, err := os.ReadFile(filepath.Join(root, "go.sum")); err == nil {
		os.WriteFile(filepath.Join(tmp, "go.sum"), sum, 0o644)
	}
	for _, c := range goldenCases(t) {
		files, _ := filepath.Glob(filepath.Join(c.dir, "want", "*.go"))
		if len(files) == 0 {
			t.Errorf("%s: no golden files", c.name)
		}
		dst := filepath.Join(tmp, c.name)
		os.MkdirAll(dst, 0o755)
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dst, filepath.Base(f)), data, 0o644)
		}
	}
	for _, args := range [][]string{{"build", "./..."}, {"vet", "./..."}} {
		cmd := exec.Command(goTool, args...)
		cmd.Dir = tmp
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOWORK=off", "GOPROXY=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// e2eTargets are the committed generated packages under internal/e2e; the
// tests next to them check gradients, inference, allocations and
// checkpoints of real generated code.
var e2eTargets = []struct {
	bf, dir string
	opts    codegen.Options
	plan    plan.Options
}{
	{"internal/e2e/gradmodel.bf", "internal/e2e/gradmodel", codegen.Options{Package: "gradmodel", DType: "float64", Source: "gradmodel.bf"}, plan.Options{}},
	{"internal/e2e/gradmodel.bf", "internal/e2e/gradmodel32", codegen.Options{Package: "gradmodel32", Source: "gradmodel.bf"}, plan.Options{}},
	{"internal/e2e/gradmodel.bf", "internal/e2e/gradinfer", codegen.Options{Package: "gradinfer", Source: "gradmodel.bf", InferenceOnly: true}, plan.Options{}},
	{"internal/e2e/tiedmodel.bf", "internal/e2e/tiedmodel", codegen.Options{Package: "tiedmodel", DType: "float64", Source: "tiedmodel.bf"}, plan.Options{}},
	{"internal/e2e/moemodel.bf", "internal/e2e/moemodel", codegen.Options{Package: "moemodel", DType: "float64", Source: "moemodel.bf"}, plan.Options{}},
	{"internal/e2e/moemodel.bf", "internal/e2e/moemodel32", codegen.Options{Package: "moemodel32", Source: "moemodel.bf"}, plan.Options{}},
	{"internal/e2e/moemodel.bf", "internal/e2e/moeinfer", codegen.Options{Package: "moeinfer", Source: "moemodel.bf", InferenceOnly: true}, plan.Options{}},
	{"internal/e2e/moecausal.bf", "internal/e2e/moecausal", codegen.Options{Package: "moecausal", Source: "moecausal.bf"}, plan.Options{}},
	{"internal/e2e/moecausalseq.bf", "internal/e2e/moecausalseq", codegen.Options{Package: "moecausalseq", Source: "moecausalseq.bf"}, plan.Options{}},
	{"internal/e2e/gradmodel.bf", "internal/e2e/gradbf16", codegen.Options{Package: "gradbf16", Source: "gradmodel.bf", Precision: "bf16"}, plan.Options{}},
	{"internal/e2e/moemodel.bf", "internal/e2e/moebf16", codegen.Options{Package: "moebf16", Source: "moemodel.bf", Precision: "bf16"}, plan.Options{}},
	{"internal/e2e/moeleak.bf", "internal/e2e/moeleak", codegen.Options{Package: "moeleak", Source: "moeleak.bf"}, plan.Options{}},
	{"internal/e2e/moecausal.bf", "internal/e2e/unfused", codegen.Options{Package: "unfused", Source: "moecausal.bf"}, plan.Options{NoFusion: true}},
}

// TestE2EFresh fails when a committed e2e package differs from what codegen
// generates now; -update rewrites them.
func TestE2EFresh(t *testing.T) {
	for _, e := range e2eTargets {
		t.Run(e.opts.Package, func(t *testing.T) {
			check(t, e.dir, generateWith(t, e.bf, e.opts, e.plan))
		})
	}
}

// TestDeterministic generates every golden case twice from separately
// compiled programs and requires identical, gofmt-clean bytes with the
// header Go tools recognise.
func TestDeterministic(t *testing.T) {
	for _, c := range goldenCases(t) {
		in := filepath.Join(c.dir, "input.bf")
		a := generate(t, in, c.opts)
		b := generate(t, in, c.opts)
		if len(a) != len(b) {
			t.Fatalf("%s: %d files, then %d", c.name, len(a), len(b))
		}
		for i := range a {
			if a[i].Name != b[i].Name || !bytes.Equal(a[i].Data, b[i].Data) {
				t.Errorf("%s: %s differs between two runs", c.name, a[i].Name)
			}
			formatted, err := format.Source(a[i].Data)
			if err != nil || !bytes.Equal(formatted, a[i].Data) {
				t.Errorf("%s: %s is not gofmt-clean (%v)", c.name, a[i].Name, err)
			}
			first, _, _ := bytes.Cut(a[i].Data, []byte("\n"))
			if string(first) != "// Code generated by bfc build. DO NOT EDIT." {
				t.Errorf("%s: first line %q", c.name, first)
			}
		}
	}
}

// TestNoZeroBeforeOverwrite: a slot an accumulating matmul or accum writes
// first is overwritten (beta 0, copy), not zeroed and then added to.
func TestNoZeroBeforeOverwrite(t *testing.T) {
	zero := regexp.MustCompile(`^\s*kernels\.Zero\((\w+\[[^]]+\])\)$`)
	n := 0
	for _, c := range goldenCases(t) {
		for _, f := range generate(t, filepath.Join(c.dir, "input.bf"), c.opts) {
			lines := strings.Split(string(f.Data), "\n")
			for i, l := range lines[:len(lines)-1] {
				m := zero.FindStringSubmatch(l)
				if m == nil {
					continue
				}
				slot := strings.ReplaceAll(m[1], " ", "")
				next := strings.ReplaceAll(strings.TrimSpace(lines[i+1]), " ", "")
				if strings.HasPrefix(next, "kernels.AddTo("+slot+",") ||
					(strings.HasPrefix(next, "kernels.Gemm(") && strings.HasSuffix(next, ","+slot+","+lastArg(next))) {
					t.Errorf("%s/%s:%d: %s zeroed, then added to:\n%s", c.name, f.Name, i+1, slot, lines[i+1])
				}
				n++
			}
			if strings.Contains(string(f.Data), "Backward()") && !strings.Contains(string(f.Data), "copy(a[") {
				t.Errorf("%s/%s: no accum became a copy", c.name, f.Name)
			}
		}
	}
	if n == 0 {
		t.Error("no zeroing found in the goldens")
	}
}

// lastArg returns the text after the last comma of a call, without ")".
func lastArg(call string) string {
	return strings.TrimSuffix(call[strings.LastIndex(call, ",")+1:], ")")
}
