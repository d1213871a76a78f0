package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	"github.com/bfcdev/bfc/codegen"
	"github.com/bfcdev/bfc/compiler"
	"github.com/bfcdev/bfc/compiler/ir"
	"github.com/bfcdev/bfc/compiler/plan"
	"github.com/bfcdev/bfc/runtime/train"
)

const bfcModule = "github.com/bfcdev/bfc"

func runTrain(e *env, args []string) int {
	fs := newFlags(e, "train")
	model := fs.String("model", "", "model to train when the file declares several")
	sets := setFlag(fs)
	precision := precisionFlag(fs)
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprintf(fs.Output(), "\nThe trainer's flags come after FILE.bf; 'bfc train FILE.bf -help' lists them.\nOutputs go to the current directory: NAME.safetensors (checkpoint), NAME.jsonl\n(log) and NAME.png (loss plot), NAME being FILE's base name.\n")
	}
	if code, ok := parseFlags(fs, e, args); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(e.stderr, "bfc train: want a .bf file")
		fs.Usage()
		return exitUsage
	}
	if !checkPrecision(e, "train", *precision) {
		return exitUsage
	}
	file := fs.Arg(0)
	src := &train.ModelSource{Main: file, Files: map[string]string{}, Set: sets}
	if len(sets) == 0 {
		src.Set = nil
	}
	readFile := func(p string) ([]byte, error) {
		b, err := os.ReadFile(p)
		if err == nil {
			src.Files[p] = string(b)
		}
		return b, err
	}
	p, code := compileSource(e, "train", src, *model, readFile)
	if p == nil {
		return code
	}
	src.Model = p.Name

	name := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	self := selfCommand()
	cmd := self + " train"
	if *model != "" {
		cmd += " -model " + shellQuote(*model)
	}
	for _, kv := range strings.Split(sets.String(), ",") {
		if kv != "" {
			cmd += " -set " + shellQuote(kv)
		}
	}
	if *precision != "float32" {
		cmd += " -precision " + *precision
	}
	cmd += " " + shellQuote(file)
	bin, err := buildRunner(e, p, src, *precision)
	if err != nil {
		fmt.Fprintf(e.stderr, "bfc train: %v\n", err)
		return exitError
	}
	return runRunner(e, bin, fs.Args()[1:], []string{
		"BFC_COMMAND=" + cmd,
		"BFC_CHECKPOINT=" + name + ".safetensors",
		"BFC_SAMPLE=" + self + " sample",
	})
}

// selfCommand is how the user ran bfc, for the commands the trainer
// prints: bfc, or go run when bfc runs from go run's build directory.
func selfCommand() string {
	if !strings.Contains(filepath.ToSlash(os.Args[0]), "/go-build") {
		return "bfc"
	}
	if wd, err := os.Getwd(); err == nil {
		if _, err := os.Stat(filepath.Join(wd, "cmd", "bfc", "main.go")); err == nil {
			return "go run ./cmd/bfc"
		}
	}
	return "go run " + bfcModule + "/cmd/bfc"
}

// compileSource compiles src.Main (reading files with readFile) and picks
// the model to train: src.Model, else model, else the only one.
func compileSource(e *env, cmd string, src *train.ModelSource, model string, readFile func(string) ([]byte, error)) (*ir.Program, int) {
	progs, diags := compiler.Compile(compiler.Options{Overrides: src.Set, ReadFile: readFile}, src.Main)
	if len(diags) > 0 {
		printDiags(e.stderr, diags, 10)
		return nil, exitError
	}
	if model == "" {
		model = src.Model
	}
	var names []string
	for _, p := range progs {
		if model == "" && len(progs) == 1 || p.Name == model {
			return p, exitOK
		}
		names = append(names, p.Name)
	}
	switch {
	case len(progs) == 0:
		fmt.Fprintf(e.stderr, "bfc %s: %s declares no model; add a model block or import this file from one\n", cmd, src.Main)
		return nil, exitError
	case model == "":
		fmt.Fprintf(e.stderr, "bfc %s: %s declares several models (%s); choose one with -model\n", cmd, src.Main, strings.Join(names, ", "))
		return nil, exitUsage
	}
	fmt.Fprintf(e.stderr, "bfc %s: %s declares no model named %q (it has %s)\n", cmd, src.Main, model, strings.Join(names, ", "))
	return nil, exitUsage
}

// buildRunner generates the model's package and a main package that runs
// runtime/train/cli with it, in a module of its own under the user cache
// directory (one per source and bfc version, reused), builds it and returns
// the binary's path.
func buildRunner(e *env, p *ir.Program, src *train.ModelSource, precision string) (string, error) {
	root, err := bfcRoot()
	if err != nil {
		return "", err
	}
	version := bfcVersion()
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s", src.Encode(), version, root, runtime.Version())
	if precision != "float32" {
		fmt.Fprintf(h, "\x00precision %s", precision)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "bfc", "run", hex.EncodeToString(h.Sum(nil))[:16])

	layout, err := plan.Plan(p)
	if err != nil {
		return "", fmt.Errorf("%s: planning buffers: %v", src.Main, err)
	}
	files, err := codegen.Generate(p, layout, codegen.Options{Package: "model", DType: "float32", Precision: precision, Source: filepath.Base(src.Main)})
	if err != nil {
		return "", fmt.Errorf("%s: %v", src.Main, err)
	}
	goMod, err := runnerGoMod(root)
	if err != nil {
		return "", err
	}
	goSum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		return "", fmt.Errorf("reading bfc's go.sum: %v", err)
	}
	mainGo, err := runnerMain(p, src)
	if err != nil {
		return "", err
	}
	out := []codegen.File{
		{Name: "go.mod", Data: goMod}, {Name: "go.sum", Data: goSum}, {Name: "main.go", Data: mainGo},
	}
	for _, f := range files {
		out = append(out, codegen.File{Name: filepath.Join("model", f.Name), Data: f.Data})
	}
	if err := os.MkdirAll(filepath.Join(dir, "model"), 0o755); err != nil {
		return "", fmt.Errorf("trainer cache: %v", err)
	}
	for _, f := range out {
		path := filepath.Join(dir, f.Name)
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, f.Data) {
			continue
		}
		if err := writeFileAtomic(path, f.Data); err != nil {
			return "", fmt.Errorf("trainer cache: %v", err)
		}
	}
	bin := filepath.Join(dir, "trainer")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	if _, err := os.Stat(bin); err != nil {
		fmt.Fprintf(e.stderr, "bfc: building the trainer of %s in %s (the first time takes a while)\n", p.Name, dir)
	}
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = dir
	// The replace directive points at bfc's own sources, whose go.sum the
	// module carries: no network is needed when bfc itself builds.
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	var msg bytes.Buffer
	build.Stdout, build.Stderr = &msg, &msg
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("building the trainer in %s failed (%v):\n%s", dir, err, msg.String())
	}
	return bin, nil
}

// runnerGoMod returns the go.mod of a trainer module: bfc's own go.mod
// (so that every dependency has the version bfc was tested with) renamed,
// requiring bfc and replacing it with its source directory.
func runnerGoMod(root string) ([]byte, error) {
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return nil, fmt.Errorf("reading bfc's go.mod: %v", err)
	}
	re := regexp.MustCompile(`(?m)^module[ \t]+\S+[ \t]*$`)
	if !re.Match(mod) {
		return nil, fmt.Errorf("%s has no module line", filepath.Join(root, "go.mod"))
	}
	out := re.ReplaceAll(mod, []byte("// Code generated by bfc train. DO NOT EDIT.\n\nmodule bfctrainer"))
	out = fmt.Appendf(out, "\nrequire %s v0.0.0-00010101000000-000000000000\n\nreplace %s => %s\n", bfcModule, bfcModule, strconv.Quote(root))
	return out, nil
}

// runnerMain returns the trainer's main.go.
func runnerMain(p *ir.Program, src *train.ModelSource) ([]byte, error) {
	text := fmt.Sprintf(`// Code generated by bfc train. DO NOT EDIT.

// Command trainer trains %[1]s of %[2]s (runtime/train/cli).
package main

import (
	"os"

	"github.com/bfcdev/bfc/runtime/train"
	"github.com/bfcdev/bfc/runtime/train/cli"

	"bfctrainer/model"
)

const source = %[3]s

func main() {
	src, err := train.DecodeModelSource(source)
	if err != nil {
		panic(err)
	}
	os.Exit(cli.Main(cli.Program{
		Name:       "bfc train",
		Command:    env("BFC_COMMAND", os.Args[0]),
		Sample:     env("BFC_SAMPLE", "bfc sample"),
		Checkpoint: env("BFC_CHECKPOINT", "%[4]s"),
		Models: []cli.Model{{
			Name: %[5]q, Doc: %[2]q,
			New:       func(seed uint64) train.Model { return model.New(model.Options{Seed: seed}) },
			MaxBatch:  model.MaxBatch,
			MaxSeq:    model.MaxSeq,
			NumParams: model.NumParams,
			Source:    src,
		}},
	}, os.Args[1:], os.Stdout, os.Stderr))
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
`, p.Name, filepath.Base(src.Main), strconv.Quote(src.Encode()), strings.ToLower(p.Name)+".safetensors", p.Name)
	return []byte(text), nil
}

// runRunner runs the trainer with args and extra environment, passing
// stdin, stdout, stderr and the exit code through. The trainer runs in a
// process group of its own, so a terminal's Ctrl-C reaches bfc alone,
// which forwards it once: the trainer then saves a checkpoint (a second
// Ctrl-C, forwarded too, exits at once). kill -INT on bfc works the same.
func runRunner(e *env, bin string, args, extraEnv []string) int {
	c := exec.Command(bin, args...)
	c.Stdin, c.Stdout, c.Stderr = e.stdin, e.stdout, e.stderr
	c.Env = append(os.Environ(), extraEnv...)
	ownProcessGroup(c)
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	if err := c.Start(); err != nil {
		fmt.Fprintf(e.stderr, "bfc: starting the trainer: %v\n", err)
		return exitError
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sig:
				c.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err := c.Wait()
	close(done)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		if code := ee.ExitCode(); code >= 0 {
			return code
		}
		return exitError // killed by a signal
	}
	fmt.Fprintf(e.stderr, "bfc: running the trainer: %v\n", err)
	return exitError
}

// bfcRoot returns the directory of bfc's sources, which the trainer module
// builds against. In order:
//   - $BFC_ROOT, when set;
//   - the module root this binary was compiled from, found from this
//     file's compile-time path (go run ./cmd/bfc, go build or go install
//     in a checkout, and go install module@version, whose sources stay in
//     the module cache; not with -trimpath);
//   - github.com/bfcdev/bfc as the module in the current directory sees it
//     (go list -m: bfc's checkout, or a module that requires or replaces it);
//   - the module cache's copy of the version this binary was built at.
//
// Each candidate must hold a go.mod declaring github.com/bfcdev/bfc.
func bfcRoot() (string, error) {
	var tried []string
	check := func(dir string) bool {
		if dir == "" {
			return false
		}
		tried = append(tried, dir)
		mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		return err == nil && regexp.MustCompile(`(?m)^module\s+`+regexp.QuoteMeta(bfcModule)+`\s*$`).Match(mod)
	}
	if dir := os.Getenv("BFC_ROOT"); dir != "" {
		if check(dir) {
			return filepath.Abs(dir)
		}
		return "", fmt.Errorf("$BFC_ROOT=%s is not a checkout of %s (no go.mod declaring it); unset it or point it at one", dir, bfcModule)
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		if dir := filepath.Dir(filepath.Dir(filepath.Dir(file))); check(dir) {
			return dir, nil
		}
	}
	if out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", bfcModule).Output(); err == nil {
		if dir := strings.TrimSpace(string(out)); check(dir) {
			return dir, nil
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Path == bfcModule && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		if out, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil {
			if dir := filepath.Join(strings.TrimSpace(string(out)), bfcModule+"@"+bi.Main.Version); check(dir) {
				return dir, nil
			}
		}
	}
	return "", fmt.Errorf("cannot find bfc's sources, which the trainer builds against (tried %s); set BFC_ROOT to a checkout of %s", orNone(tried), bfcModule)
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, ", ")
}

// bfcVersion identifies this bfc's release for the trainer cache (not its
// VCS revision: a checkout's trainers are regenerated and rebuilt
// incrementally, and stay in one place across commits).
func bfcVersion() string {
	v := Version
	if bi, ok := debug.ReadBuildInfo(); ok {
		v += " " + bi.Main.Version
	}
	return v
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
