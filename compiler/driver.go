package compiler

import (
	"io/fs"

	"github.com/bfcdev/bfc/compiler/autodiff"
	"github.com/bfcdev/bfc/compiler/check"
	"github.com/bfcdev/bfc/compiler/ir"
	"github.com/bfcdev/bfc/compiler/lower"
	"github.com/bfcdev/bfc/lang/source"
)

// Options configure a compilation.
type Options struct {
	// Std is the standard library (nil: the embedded stdlib).
	Std fs.FS
	// ReadFile reads user files (nil: os.ReadFile).
	ReadFile func(path string) ([]byte, error)
	// Overrides replace constants at build time: "name" or "Model.name" to
	// the value's text.
	Overrides map[string]string
	// NoBackward skips autodiff (inference-only builds).
	NoBackward bool
}

// Check parses and checks the files and returns the checked models.
func Check(opts Options, paths ...string) (*check.Result, source.List) {
	return check.Check(opts.checkConfig(), paths...)
}

func (o Options) checkConfig() check.Config {
	return check.Config{Std: o.Std, ReadFile: o.ReadFile, Overrides: o.Overrides}
}

// Compile checks the files, lowers every model they declare to IR and
// derives its backward pass. Diagnostics from every stage are returned
// together; the programs are nil when there are any.
func Compile(opts Options, paths ...string) ([]*ir.Program, source.List) {
	res, diags := check.Check(opts.checkConfig(), paths...)
	if len(diags) > 0 {
		return nil, diags
	}
	return compileModels(opts, res.Models)
}

// CompileSource is Compile for one in-memory root file.
func CompileSource(opts Options, filename string, src []byte) ([]*ir.Program, source.List) {
	res, diags := check.CheckSource(opts.checkConfig(), filename, src)
	if len(diags) > 0 {
		return nil, diags
	}
	return compileModels(opts, res.Models)
}

func compileModels(opts Options, models []*check.Model) ([]*ir.Program, source.List) {
	var diags source.List
	var progs []*ir.Program
	for _, m := range models {
		p, err := lower.Lower(m)
		if err != nil {
			diags.Add(m.Pos, "InternalError", "lowering model %s: %v", m.Name, err)
			continue
		}
		if !opts.NoBackward {
			if err := autodiff.Differentiate(p); err != nil {
				diags.Add(m.Pos, "InternalError", "differentiating model %s: %v", m.Name, err)
				continue
			}
		}
		if err := ir.Verify(p); err != nil {
			diags.Add(m.Pos, "InternalError", "model %s: invalid IR: %v", m.Name, err)
			continue
		}
		progs = append(progs, p)
	}
	if len(diags) > 0 {
		return nil, diags
	}
	return progs, nil
}
