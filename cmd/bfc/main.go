package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/rogpeppe/go-internal/diff"

	"github.com/bfcdev/bfc/codegen"
	"github.com/bfcdev/bfc/compiler"
	"github.com/bfcdev/bfc/compiler/ir"
	"github.com/bfcdev/bfc/compiler/plan"
	"github.com/bfcdev/bfc/compiler/stats"
	"github.com/bfcdev/bfc/lang/printer"
	"github.com/bfcdev/bfc/lang/source"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the input has errors
	exitUsage = 2
)

type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

type command struct {
	name, args, summary string
	run                 func(e *env, args []string) int
}

var commands []command

func init() {
	commands = []command{
		{"check", "[-e] [-set name=value]... FILE.bf...", "check .bf files and report every error", runCheck},
		{"fmt", "[-w] [-l] [-d] [FILE.bf...]", "format .bf files canonically", runFmt},
		{"build", "[-o DIR] [-pkg NAME] [-model NAME] [-dtype float32|float64] [-inference] [-set name=value]... FILE.bf", "generate a Go package from a .bf model", runBuild},
		{"ir", "[-set name=value]... FILE.bf", "print the IR of each model, forward and backward", runIR},
		{"stats", "[-json] [-set name=value]... FILE.bf", "count each model's parameters, activated parameters and FLOPs per token", runStats},
		{"version", "", "print bfc's version", runVersion},
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "bfc compiles .bf block specifications to Go.\n\nUsage:\n\n\tbfc <command> [arguments]\n\nCommands:\n\n")
	for _, c := range commands {
		fmt.Fprintf(w, "\t%-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'bfc <command> -help' for a command's flags.\n")
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "bfc: internal error: %v\n%s\nplease report this with the input that caused it\n", r, debug.Stack())
			code = exitError
		}
	}()
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 && args[0] == "help" {
			for _, c := range commands {
				if c.name == args[1] {
					return c.run(e, []string{"-help"})
				}
			}
		}
		usage(stdout)
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(e, args[1:])
		}
	}
	fmt.Fprintf(stderr, "bfc: unknown command %q\n", args[0])
	usage(stderr)
	return exitUsage
}

// newFlags returns a flag set whose -help prints the command's usage.
func newFlags(e *env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet("bfc "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var c command
	for _, x := range commands {
		if x.name == name {
			c = x
		}
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: bfc %s %s\n\n%s.\n", c.name, c.args, strings.ToUpper(c.summary[:1])+c.summary[1:])
		var any bool
		fs.VisitAll(func(*flag.Flag) { any = true })
		if any {
			fmt.Fprintf(fs.Output(), "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args; it returns the exit code to use when the command
// must stop (help or a usage error).
func parseFlags(fs *flag.FlagSet, e *env, args []string) (int, bool) {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(e.stdout)
		fs.Usage()
		return exitOK, false
	}
	if err != nil {
		return exitUsage, false
	}
	return 0, true
}

// overrides collects repeated -set name=value flags.
type overrides map[string]string

func (o overrides) String() string {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(k + "=" + o[k])
	}
	return b.String()
}

func (o overrides) Set(s string) error {
	name, val, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.TrimSpace(val) == "" {
		return fmt.Errorf("want name=value, as in -set d=512")
	}
	o[name] = strings.TrimSpace(val)
	return nil
}

// setFlag registers the repeatable -set name=value flag.
func setFlag(fs *flag.FlagSet) overrides {
	sets := overrides{}
	fs.Var(sets, "set", "override a constant: name=value or Model.name=value (repeatable)")
	return sets
}

// oneFile reports whether exactly one file argument was given, printing the
// usage when not.
func oneFile(e *env, fs *flag.FlagSet) bool {
	if fs.NArg() == 1 {
		return true
	}
	fmt.Fprintf(e.stderr, "%s: want exactly one .bf file\n", fs.Name())
	fs.Usage()
	return false
}

// printDiags prints diagnostics, at most max unless max <= 0.
func printDiags(w io.Writer, diags source.List, max int) {
	diags.Sort()
	for i, d := range diags {
		if max > 0 && i == max {
			fmt.Fprintf(w, "too many errors (%d more; -e shows all)\n", len(diags)-max)
			return
		}
		fmt.Fprintln(w, d.Error())
	}
}

func runCheck(e *env, args []string) int {
	fs := newFlags(e, "check")
	all := fs.Bool("e", false, "report all errors, not just the first 10")
	sets := setFlag(fs)
	if code, ok := parseFlags(fs, e, args); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(e.stderr, "bfc check: no .bf files given")
		fs.Usage()
		return exitUsage
	}
	max := 10
	if *all {
		max = 0
	}
	_, diags := compiler.Check(compiler.Options{Overrides: sets}, fs.Args()...)
	if len(diags) > 0 {
		printDiags(e.stderr, diags, max)
		return exitError
	}
	return exitOK
}

func runFmt(e *env, args []string) int {
	fs := newFlags(e, "fmt")
	write := fs.Bool("w", false, "write the result to each file instead of stdout")
	list := fs.Bool("l", false, "list files whose formatting differs")
	showDiff := fs.Bool("d", false, "print diffs instead of rewriting")
	if code, ok := parseFlags(fs, e, args); !ok {
		return code
	}
	if fs.NArg() == 0 {
		if *write {
			fmt.Fprintln(e.stderr, "bfc fmt: -w needs file names")
			return exitUsage
		}
		src, err := io.ReadAll(e.stdin)
		if err != nil {
			fmt.Fprintf(e.stderr, "bfc fmt: reading stdin: %v\n", err)
			return exitError
		}
		return fmtOne(e, "<stdin>", src, false, *list, *showDiff)
	}
	code := exitOK
	for _, path := range fs.Args() {
		src, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(e.stderr, "bfc fmt: %v\n", err)
			code = exitError
			continue
		}
		if c := fmtOne(e, path, src, *write, *list, *showDiff); c != exitOK {
			code = c
		}
	}
	return code
}

func fmtOne(e *env, path string, src []byte, write, list, showDiff bool) int {
	out, err := printer.Format(path, src)
	if err != nil {
		var l source.List
		if errors.As(err, &l) {
			printDiags(e.stderr, l, 10)
		} else {
			fmt.Fprintf(e.stderr, "%s: %v\n", path, err)
		}
		return exitError
	}
	changed := !bytes.Equal(src, out)
	if list && changed {
		fmt.Fprintln(e.stdout, path)
	}
	if showDiff && changed {
		e.stdout.Write(diff.Diff(path+".orig", src, path, out))
	}
	if write && changed {
		if err := writeFileAtomic(path, out); err != nil {
			fmt.Fprintf(e.stderr, "bfc fmt: %v\n", err)
			return exitError
		}
	}
	if !write && !list && !showDiff {
		e.stdout.Write(out)
	}
	return exitOK
}

func runBuild(e *env, args []string) int {
	fs := newFlags(e, "build")
	outDir := fs.String("o", "", "output directory (default: the directory of FILE.bf)")
	pkg := fs.String("pkg", "", "Go package name (default: $GOPACKAGE under go generate, else the model name in lower case)")
	model := fs.String("model", "", "model to build when the file declares several")
	dtype := fs.String("dtype", "float32", "float type of the generated code: float32 or float64")
	inference := fs.Bool("inference", false, "generate an inference-only package (no backward pass, no gradient buffers)")
	sets := setFlag(fs)
	if code, ok := parseFlags(fs, e, args); !ok {
		return code
	}
	if !oneFile(e, fs) {
		return exitUsage
	}
	if *dtype != "float32" && *dtype != "float64" {
		fmt.Fprintf(e.stderr, "bfc build: -dtype %q: want float32 or float64\n", *dtype)
		return exitUsage
	}
	file := fs.Arg(0)
	progs, diags := compiler.Compile(compiler.Options{Overrides: sets, NoBackward: *inference}, file)
	if len(diags) > 0 {
		printDiags(e.stderr, diags, 10)
		return exitError
	}
	p, code := pickModel(e, progs, *model, file)
	if p == nil {
		return code
	}
	name := *pkg
	if name == "" {
		name = os.Getenv("GOPACKAGE")
	}
	if name == "" {
		name = strings.ToLower(p.Name)
	}
	if !isGoIdent(name) {
		fmt.Fprintf(e.stderr, "bfc build: -pkg %q is not a valid Go package name\n", name)
		return exitUsage
	}
	layout, err := plan.Plan(p)
	if err != nil {
		fmt.Fprintf(e.stderr, "bfc build: %s: planning buffers: %v\n", file, err)
		return exitError
	}
	files, err := codegen.Generate(p, layout, codegen.Options{
		Package: name, DType: *dtype, InferenceOnly: *inference, Source: filepath.Base(file),
	})
	if err != nil {
		fmt.Fprintf(e.stderr, "bfc build: %s: %v\n", file, err)
		return exitError
	}
	dir := *outDir
	if dir == "" {
		dir = filepath.Dir(file)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintf(e.stderr, "bfc build: %v\n", err)
		return exitError
	}
	for _, f := range files {
		path := filepath.Join(dir, f.Name)
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, f.Data) {
			continue
		}
		if err := writeFileAtomic(path, f.Data); err != nil {
			fmt.Fprintf(e.stderr, "bfc build: %v\n", err)
			return exitError
		}
	}
	return exitOK
}

func pickModel(e *env, progs []*ir.Program, name, file string) (*ir.Program, int) {
	if len(progs) == 0 {
		fmt.Fprintf(e.stderr, "bfc: %s declares no model; add a model block or import this file from one\n", file)
		return nil, exitError
	}
	if name == "" {
		if len(progs) > 1 {
			var names []string
			for _, p := range progs {
				names = append(names, p.Name)
			}
			fmt.Fprintf(e.stderr, "bfc build: %s declares several models (%s); choose one with -model\n", file, strings.Join(names, ", "))
			return nil, exitUsage
		}
		return progs[0], exitOK
	}
	for _, p := range progs {
		if p.Name == name {
			return p, exitOK
		}
	}
	fmt.Fprintf(e.stderr, "bfc build: %s declares no model named %q\n", file, name)
	return nil, exitUsage
}

func runIR(e *env, args []string) int {
	fs := newFlags(e, "ir")
	sets := setFlag(fs)
	if code, ok := parseFlags(fs, e, args); !ok {
		return code
	}
	if !oneFile(e, fs) {
		return exitUsage
	}
	progs, diags := compiler.Compile(compiler.Options{Overrides: sets}, fs.Arg(0))
	if len(diags) > 0 {
		printDiags(e.stderr, diags, 10)
		return exitError
	}
	if len(progs) == 0 {
		fmt.Fprintf(e.stderr, "bfc ir: %s declares no model\n", fs.Arg(0))
		return exitError
	}
	for i, p := range progs {
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		if err := ir.Print(e.stdout, p); err != nil {
			fmt.Fprintf(e.stderr, "bfc ir: %v\n", err)
			return exitError
		}
	}
	return exitOK
}

func runStats(e *env, args []string) int {
	fs := newFlags(e, "stats")
	asJSON := fs.Bool("json", false, "print JSON instead of tables")
	sets := setFlag(fs)
	if code, ok := parseFlags(fs, e, args); !ok {
		return code
	}
	if !oneFile(e, fs) {
		return exitUsage
	}
	res, diags := compiler.Check(compiler.Options{Overrides: sets}, fs.Arg(0))
	if len(diags) > 0 {
		printDiags(e.stderr, diags, 10)
		return exitError
	}
	if len(res.Models) == 0 {
		fmt.Fprintf(e.stderr, "bfc stats: %s declares no model\n", fs.Arg(0))
		return exitError
	}
	var all []*stats.Model
	for _, m := range res.Models {
		all = append(all, stats.Compute(m))
	}
	if *asJSON {
		out, err := json.MarshalIndent(all, "", "  ")
		if err != nil {
			fmt.Fprintf(e.stderr, "bfc stats: %v\n", err)
			return exitError
		}
		e.stdout.Write(append(out, '\n'))
		return exitOK
	}
	for i, s := range all {
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		if err := s.WriteTable(e.stdout); err != nil {
			fmt.Fprintf(e.stderr, "bfc stats: %v\n", err)
			return exitError
		}
	}
	return exitOK
}

// Version is bfc's version; release builds set it with -ldflags.
var Version = ""

func runVersion(e *env, args []string) int {
	fs := newFlags(e, "version")
	if code, ok := parseFlags(fs, e, args); !ok {
		return code
	}
	v := Version
	if v == "" {
		v = "(devel)"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
			v = bi.Main.Version
		}
	}
	fmt.Fprintf(e.stdout, "bfc %s\n", v)
	return exitOK
}

func isGoIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9') {
			continue
		}
		return false
	}
	switch s {
	case "break", "case", "chan", "const", "continue", "default", "defer", "else", "fallthrough", "for", "func", "go", "goto", "if", "import", "interface", "map", "package", "range", "return", "select", "struct", "switch", "type", "var":
		return false
	}
	return true
}

// writeFileAtomic replaces path with data so that a crash leaves either the
// old or the new file, never a partial one.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, mode)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
