package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/bfcdev/bfc/runtime/safetensors"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"bfc": func() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScript runs the scripts in testdata/script: exit codes, diagnostics,
// formatting, and a downstream module that uses go generate with bfc build.
func TestScript(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	goEnv := map[string]string{}
	for _, k := range []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOROOT"} {
		out, err := exec.Command("go", "env", k).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", k, err)
		}
		goEnv[k] = strings.TrimSpace(string(out))
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(e *testscript.Env) error {
			e.Setenv("BFC_ROOT", root)
			for k, v := range goEnv {
				e.Setenv(k, v)
			}
			// Everything downstream builds from the local module cache.
			e.Setenv("GOPROXY", "off")
			e.Setenv("GOSUMDB", "off")
			e.Setenv("GOFLAGS", "-mod=mod")
			e.Setenv("CGO_ENABLED", "0")
			e.Setenv("GOTOOLCHAIN", "local")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitfile":  cmdWaitFile,
			"size":      cmdSize,
			"paramfile": cmdParamFile,
		},
		Condition: func(cond string) (bool, error) {
			if cond == "short" {
				return testing.Short(), nil
			}
			return false, nil
		},
	})
}

// cmdWaitFile waits up to two minutes for a file to hold some bytes:
// waitfile FILE.
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitfile FILE")
	}
	path := ts.MkAbs(args[0])
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if st, err := os.Stat(path); err == nil && st.Size() > 0 {
			return
		}
	}
	ts.Fatalf("%s is still empty or missing after two minutes", args[0])
}

// cmdSize checks a file's length in bytes: size FILE N.
func cmdSize(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: size FILE N")
	}
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	b, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	if (len(b) == want) == neg {
		ts.Fatalf("%s has %d bytes (want %s%d)", args[0], len(b), map[bool]string{true: "not ", false: ""}[neg], want)
	}
}

// cmdParamFile writes a safetensors file of parameters without any bfc
// source metadata, as a model's Save does: paramfile FILE.
func cmdParamFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: paramfile FILE")
	}
	ts.Check(safetensors.Save(ts.MkAbs(args[0]), []safetensors.Tensor{safetensors.FromFloat32("w", []int{2}, []float32{1, 2})}, map[string]string{"bfc.format": "1"}))
}
