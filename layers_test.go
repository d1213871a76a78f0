package bfc_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/bfcdev/bfc"

type pkg struct {
	ImportPath string
	Doc        string
	Imports    []string
	Name       string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []pkg
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func under(path, dir string) bool {
	return path == mod+"/"+dir || strings.HasPrefix(path, mod+"/"+dir+"/")
}

// TestLayers enforces the dependency direction lang → compiler → codegen →
// cmd, with runtime an island that only generated code, examples and the
// IR interpreter import.
func TestLayers(t *testing.T) {
	forbidden := map[string][]string{
		"lang":     {"compiler", "codegen", "cmd", "runtime", "examples", "stdlib"},
		"compiler": {"codegen", "cmd", "examples"},
		"codegen":  {"cmd", "examples"},
		"runtime":  {"lang", "compiler", "codegen", "cmd", "examples", "stdlib"},
		"stdlib":   {"lang", "compiler", "codegen", "cmd", "runtime", "examples"},
	}
	runtimeOK := []string{"compiler/eval"}
	for _, p := range listPackages(t) {
		for layer, bad := range forbidden {
			if !under(p.ImportPath, layer) {
				continue
			}
			for _, imp := range p.Imports {
				for _, b := range bad {
					if !under(imp, b) {
						continue
					}
					if b == "runtime" && layer == "compiler" {
						continue
					}
					t.Errorf("%s imports %s: %s must not depend on %s", p.ImportPath, imp, layer, b)
				}
				if layer == "compiler" && under(imp, "runtime") {
					ok := false
					for _, r := range runtimeOK {
						if under(p.ImportPath, r) {
							ok = true
						}
					}
					if !ok {
						t.Errorf("%s imports %s: only %v may use the runtime", p.ImportPath, imp, runtimeOK)
					}
				}
			}
		}
	}
}

// TestPackageDocs requires a package comment on every package.
func TestPackageDocs(t *testing.T) {
	for _, p := range listPackages(t) {
		if strings.TrimSpace(p.Doc) == "" {
			t.Errorf("%s has no package comment; add a doc.go", p.ImportPath)
		}
	}
}
