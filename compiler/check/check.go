package check

import (
	"io/fs"
	"os"

	"github.com/bfcdev/bfc/lang/ast"
	"github.com/bfcdev/bfc/lang/source"
	"github.com/bfcdev/bfc/stdlib"
)

// Config configures a check.
type Config struct {
	// Std is the standard library; import "std/NAME.bf" reads NAME.bf from
	// it (nil: stdlib.FS).
	Std fs.FS
	// ReadFile reads user files (nil: os.ReadFile).
	ReadFile func(path string) ([]byte, error)
	// Overrides replace constant values at build time: the key is a
	// file-level constant's name ("d", which also replaces every root
	// model's constant d) or one model's constant ("Model.d"); the value is
	// the text of a literal of the constant's type ("512", "0.1", "true").
	Overrides map[string]string
}

// Result is what a check produces. When the diagnostics are not empty the
// models are best-effort: sizes that failed to resolve are zero.
type Result struct {
	Files  []*ast.File // every parsed file, root first
	Models []*Model    // every model declared in the root files, in order
	Spaces []*Space    // every search space declared in the root files, in order
}

// Check loads the files at paths (the roots) and every file they import,
// and checks them. It returns every diagnostic of the run sorted by
// position, exact repeats removed, at most one per line, follow-on errors
// of failed expressions suppressed.
func Check(cfg Config, paths ...string) (*Result, source.List) {
	c := newChecker(cfg)
	for _, p := range paths {
		c.addRoot(p, nil)
	}
	return c.run()
}

// CheckSource is Check for one root file held in memory; imports relative
// to it are read with cfg.ReadFile relative to filename's directory.
func CheckSource(cfg Config, filename string, src []byte) (*Result, source.List) {
	c := newChecker(cfg)
	if src == nil {
		src = []byte{}
	}
	c.addRoot(filename, src)
	return c.run()
}

// checker holds the state of one run.
type checker struct {
	cfg Config
	std fs.FS

	diags []*source.Diagnostic

	files  []*file           // every loaded file, roots first
	byKey  map[string]*file  // loaded files by key (see fileKey)
	order  []*file           // parsed files, imports before importers
	stack  []stackEntry      // import chain while loading
	srcs   map[string][]byte // sources by display name, for message text
	global *scope            // file-level constants, blocks and models of every file

	// incomplete records that some file failed to load or parse, so names
	// it may have declared are not reported as unknown.
	incomplete bool

	blocks    map[*ast.Block]*blockDef
	overrides map[*ast.Const]value
	fileIndex map[*file]int
}

func newChecker(cfg Config) *checker {
	c := &checker{
		cfg:       cfg,
		std:       cfg.Std,
		byKey:     map[string]*file{},
		srcs:      map[string][]byte{},
		blocks:    map[*ast.Block]*blockDef{},
		overrides: map[*ast.Const]value{},
		fileIndex: map[*file]int{},
	}
	if c.std == nil {
		c.std = stdlib.FS
	}
	if c.cfg.ReadFile == nil {
		c.cfg.ReadFile = os.ReadFile
	}
	return c
}

// run performs the phases of a check, in order.
func (c *checker) run() (*Result, source.List) {
	c.loadImports()    // load.go: read and parse every imported file, find cycles
	c.collectObjects() // resolve.go: the global namespace, duplicate declarations
	c.applyOverrides() // override.go: build-time constant values
	c.globalConsts()   // resolve.go: evaluate file-level constants
	c.blockDefs()      // block.go: check every block definition once
	models := c.models()
	spaces := c.spaces() // space.go: search declarations

	res := &Result{Models: models, Spaces: spaces}
	for _, f := range c.files {
		if f.ast != nil {
			res.Files = append(res.Files, f.ast)
		}
	}
	return res, c.finish()
}
