package main

import (
	"flag"
	"fmt"

	"github.com/bfcdev/bfc/runtime/train"
)

func runSample(e *env, args []string) int {
	fs := newFlags(e, "sample")
	n := fs.Int("n", 300, "bytes to generate")
	prompt := fs.String("prompt", "func ", "text the sample starts from")
	temp := fs.Float64("temperature", 0.8, "sampling temperature (0: greedy, the most likely byte each time)")
	topP := fs.Float64("top-p", 0.95, "nucleus sampling: draw from the most likely bytes holding this much probability")
	fs.Uint64("seed", 1, "sampling seed")
	if code, ok := parseFlags(fs, e, args); !ok {
		return code
	}
	bad := ""
	switch {
	case *n < 1:
		bad = fmt.Sprintf("-n %d: must be at least 1", *n)
	case *prompt == "":
		bad = "-prompt is empty: pass some text to start from"
	case !(*temp >= 0):
		bad = fmt.Sprintf("-temperature %v: must be 0 (greedy) or more", *temp)
	case !(*topP > 0 && *topP <= 1):
		bad = fmt.Sprintf("-top-p %v: must be in (0, 1]", *topP)
	}
	if bad != "" {
		fmt.Fprintf(e.stderr, "bfc sample: %s\n", bad)
		return exitUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(e.stderr, "bfc sample: want one checkpoint, got %d arguments\n", fs.NArg())
		fs.Usage()
		return exitUsage
	}
	ckpt := fs.Arg(0)
	src, err := train.CheckpointSource(ckpt)
	if err != nil {
		fmt.Fprintf(e.stderr, "bfc sample: %v\n", err)
		return exitError
	}
	// Rebuild the model from the recorded files alone.
	readFile := func(p string) ([]byte, error) {
		text, ok := src.Files[p]
		if !ok {
			return nil, fmt.Errorf("%s: not recorded in %s", p, ckpt)
		}
		return []byte(text), nil
	}
	p, code := compileSource(e, "sample", src, "", readFile)
	if p == nil {
		fmt.Fprintf(e.stderr, "bfc sample: the .bf source recorded in %s no longer compiles with this bfc\n", ckpt)
		return code
	}
	bin, err := buildRunner(e, p, src, "float32")
	if err != nil {
		fmt.Fprintf(e.stderr, "bfc sample: %v\n", err)
		return exitError
	}
	fwd := []string{"sample"}
	fs.Visit(func(f *flag.Flag) { fwd = append(fwd, "-"+f.Name+"="+f.Value.String()) })
	fwd = append(fwd, "--", ckpt)
	return runRunner(e, bin, fwd, nil)
}
