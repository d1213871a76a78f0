// Command block times the reference block of shared/design/performance.md
// side by side in bfc's generated Go (bench/referencemodel, parity/reference.bf
// at full size) and in PyTorch (torch_block.py, run as a subprocess with
// /usr/bin/python3), forward and forward+backward, at each thread count, in
// one run, and prints medians, the ratio Go/PyTorch and peak memory.
//
//	go run ./bench/block [-threads 1,2] [-runs 3] [-warmup 1] [-rounds 1] [-json] [-torch=false]
//
// Go runs with GOMAXPROCS set to the thread count; PyTorch with
// torch.set_num_threads, OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset. Where
// Debian's libopenblas0-openmp is installed, PyTorch also runs in the design's
// best set-up (LD_LIBRARY_PATH to that OpenBLAS, glibc malloc tunables, and
// OpenBLAS's AVX-512 kernels forced where it does not recognise the CPU; see
// bench/internal/peer).
//
// Both sides time the whole model of parity/reference.bf: embedding, the
// block, final RMSNorm, tied head and cross-entropy; forward is the training
// forward (activations kept for backward). Memory: Go, the peak HeapInuse
// sampled after each pass and the process's ru_maxrss; PyTorch, the
// subprocess's ru_maxrss (interpreter and libraries included).
package main

import (
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bfcdev/bfc/bench/internal/peer"
	"github.com/bfcdev/bfc/bench/referencemodel"
)

//go:embed torch_block.py
var torchScript []byte

type config struct {
	threads []int
	runs    int
	warmup  int
	rounds  int
	json    bool
	torch   bool
}

func parseFlags(args []string, errOut io.Writer) (config, error) {
	fs := flag.NewFlagSet("block", flag.ContinueOnError)
	fs.SetOutput(errOut)
	threads := fs.String("threads", "1,2", "comma-separated thread counts (GOMAXPROCS; torch.set_num_threads)")
	c := config{}
	fs.IntVar(&c.runs, "runs", 3, "timed runs per pass; the median is reported")
	fs.IntVar(&c.warmup, "warmup", 1, "untimed warm-up runs per pass")
	fs.IntVar(&c.rounds, "rounds", 1, "rounds in which Go and PyTorch take turns; each side's best (lowest) round is reported")
	fs.BoolVar(&c.json, "json", false, "print JSON instead of a table")
	fs.BoolVar(&c.torch, "torch", true, "also time PyTorch (false: generated Go only)")
	fs.StringVar(&peer.Python, "python", peer.Python, "the Python interpreter that runs the peers (Debian's by default, as in performance.md; another one, such as a virtual environment's, times the packages installed there)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if c.threads, err = peer.ParseThreads(*threads); err != nil {
		return c, err
	}
	if err := peer.AtLeast("runs", c.runs, 1); err != nil {
		return c, err
	}
	if err := peer.AtLeast("rounds", c.rounds, 1); err != nil {
		return c, err
	}
	if err := peer.AtLeast("warmup", c.warmup, 0); err != nil {
		return c, err
	}
	return c, nil
}

// Result is one thread count's measurements.
type Result struct {
	Threads         int     `json:"threads"`
	GoForwardMs     float64 `json:"go_forward_ms"`
	GoForwardBackMs float64 `json:"go_forward_backward_ms"`
	GoHeapInuseMiB  float64 `json:"go_peak_heap_inuse_mib"`
	GoMaxRSSMiB     float64 `json:"go_maxrss_mib"`
	Torch           []Torch `json:"torch,omitempty"`
}

// Torch is one PyTorch set-up's measurements at a thread count.
type Torch struct {
	Setup         string  `json:"setup"`
	ForwardMs     float64 `json:"forward_ms"`
	ForwardBackMs float64 `json:"forward_backward_ms"`
	MaxRSSMiB     float64 `json:"maxrss_mib"`
}

// Report is the whole run.
type Report struct {
	Date    string   `json:"date"`
	CPU     string   `json:"cpu"`
	Go      string   `json:"go"`
	Torch   string   `json:"torch,omitempty"`
	Setups  []string `json:"torch_setups,omitempty"`
	Runs    int      `json:"runs"`
	Warmup  int      `json:"warmup"`
	Rounds  int      `json:"rounds"`
	Results []Result `json:"results"`
}

func main() {
	c, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "bench/block:", err)
		os.Exit(2)
	}
	if err := run(c, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench/block:", err)
		os.Exit(1)
	}
}

func run(c config, out io.Writer) error {
	rep := Report{Date: time.Now().UTC().Format(time.RFC3339), CPU: peer.CPUName(), Go: runtime.Version(), Runs: c.runs, Warmup: c.warmup, Rounds: max(c.rounds, 1)}
	var setups []peer.Setup
	var script string
	if c.torch {
		ver, err := torchVersion()
		if err != nil {
			return err
		}
		rep.Torch = ver
		if setups, err = peer.Setups(); err != nil {
			return err
		}
		for _, s := range setups {
			rep.Setups = append(rep.Setups, s.Name)
		}
		dir, err := os.MkdirTemp("", "bfc-bench-block")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		script = filepath.Join(dir, "torch_block.py")
		if err := os.WriteFile(script, torchScript, 0o644); err != nil {
			return err
		}
	}
	m := referencemodel.New(referencemodel.Options{Seed: 1})
	r := rand.New(rand.NewPCG(1, 2))
	n := referencemodel.MaxTokens
	tokens, targets := make([]int32, n), make([]int32, n)
	for i := range tokens {
		tokens[i] = int32(r.IntN(referencemodel.Vocab))
		targets[i] = int32(r.IntN(referencemodel.Vocab))
	}
	prev := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(prev)
	for _, th := range c.threads {
		res := Result{Threads: th}
		runtime.GOMAXPROCS(th)
		var peak uint64
		sample := func() {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
		var ferr error
		fwd := func() {
			if _, err := m.Forward(tokens, targets, referencemodel.MaxBatch, referencemodel.MaxSeq); err != nil {
				ferr = err
			}
		}
		res.Torch = make([]Torch, len(setups))
		for round := range max(c.rounds, 1) {
			f := median(c, func() { fwd(); sample() })
			fb := median(c, func() { fwd(); m.Backward(); sample() })
			if ferr != nil {
				return fmt.Errorf("generated Go forward: %v", ferr)
			}
			if round == 0 || f < res.GoForwardMs {
				res.GoForwardMs = f
			}
			if round == 0 || fb < res.GoForwardBackMs {
				res.GoForwardBackMs = fb
			}
			for i, s := range setups {
				t, err := runTorch(script, s, th, c)
				if err != nil {
					return err
				}
				if round == 0 {
					res.Torch[i] = t
					continue
				}
				best := &res.Torch[i]
				best.ForwardMs = min(best.ForwardMs, t.ForwardMs)
				best.ForwardBackMs = min(best.ForwardBackMs, t.ForwardBackMs)
				best.MaxRSSMiB = max(best.MaxRSSMiB, t.MaxRSSMiB)
			}
		}
		res.GoHeapInuseMiB = mib(peak)
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
			res.GoMaxRSSMiB = float64(ru.Maxrss) / 1024
		}
		rep.Results = append(rep.Results, res)
	}
	if c.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	_, err := io.WriteString(out, formatTable(rep))
	return err
}

func median(c config, f func()) float64 {
	for range c.warmup {
		f()
	}
	ts := make([]float64, c.runs)
	for i := range ts {
		t0 := time.Now()
		f()
		ts[i] = float64(time.Since(t0).Nanoseconds()) / 1e6
	}
	slices.Sort(ts)
	if len(ts)%2 == 1 {
		return ts[len(ts)/2]
	}
	return (ts[len(ts)/2-1] + ts[len(ts)/2]) / 2
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func torchVersion() (string, error) {
	cmd := exec.Command(peer.Python, "-c", "import torch; print(torch.__version__)")
	cmd.Env = peer.BaseEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("%s cannot import torch (%s); install Debian's python3-torch, or pass -torch=false to time generated Go alone", peer.Python, msg)
	}
	return strings.TrimSpace(string(out)), nil
}

func runTorch(script string, s peer.Setup, threads int, c config) (Torch, error) {
	cmd := exec.Command(peer.Python, script, "--threads", strconv.Itoa(threads), "--runs", strconv.Itoa(c.runs), "--warmup", strconv.Itoa(c.warmup))
	cmd.Env = peer.Threads(s.Env, threads)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return Torch{}, fmt.Errorf("PyTorch (%s, %d threads): %v\n%s", s.Name, threads, err, stderr.String())
	}
	var v struct {
		Threads       int     `json:"threads"`
		ForwardMs     float64 `json:"forward_ms"`
		ForwardBackMs float64 `json:"forward_backward_ms"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		return Torch{}, fmt.Errorf("PyTorch (%s, %d threads): unreadable output %q: %v", s.Name, threads, out, err)
	}
	if v.Threads != threads {
		return Torch{}, fmt.Errorf("PyTorch (%s): asked for %d threads, runs %d", s.Name, threads, v.Threads)
	}
	t := Torch{Setup: s.Name, ForwardMs: v.ForwardMs, ForwardBackMs: v.ForwardBackMs}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		t.MaxRSSMiB = float64(ru.Maxrss) / 1024
	}
	return t, nil
}

// formatTable renders the report as a Markdown table: per thread count and
// pass, generated Go's median, each PyTorch set-up's and the ratio.
func formatTable(rep Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "reference block (parity/reference.bf, batch 8 × seq 256, d 256, fp32), %s\n", rep.Date)
	fmt.Fprintf(&b, "CPU %s; %s", rep.CPU, rep.Go)
	if rep.Torch != "" {
		fmt.Fprintf(&b, "; PyTorch %s (%s)", rep.Torch, strings.Join(rep.Setups, "; "))
	}
	fmt.Fprintf(&b, "\nms: median of %d runs after %d warm-up; with %d rounds in which Go and PyTorch take turns, each side's best round\n\n", rep.Runs, rep.Warmup, rep.Rounds)
	b.WriteString("| threads | pass | Go ms | PyTorch set-up | PyTorch ms | Go/PyTorch |\n|---|---|---|---|---|---|\n")
	for _, r := range rep.Results {
		for _, p := range []struct {
			name string
			goMs float64
			tMs  func(Torch) float64
		}{
			{"forward", r.GoForwardMs, func(t Torch) float64 { return t.ForwardMs }},
			{"forward+backward", r.GoForwardBackMs, func(t Torch) float64 { return t.ForwardBackMs }},
		} {
			if len(r.Torch) == 0 {
				fmt.Fprintf(&b, "| %d | %s | %.1f | – | – | – |\n", r.Threads, p.name, p.goMs)
			}
			for _, t := range r.Torch {
				tm := p.tMs(t)
				fmt.Fprintf(&b, "| %d | %s | %.1f | %s | %.1f | %.2f |\n", r.Threads, p.name, p.goMs, t.Setup, tm, p.goMs/tm)
			}
		}
	}
	b.WriteString("\npeak memory, MiB (Go: peak HeapInuse after a pass, and process ru_maxrss so far; PyTorch: the subprocess's ru_maxrss)\n\n")
	b.WriteString("| threads | Go HeapInuse | Go ru_maxrss | PyTorch set-up | PyTorch ru_maxrss | Go/PyTorch (ru_maxrss) |\n|---|---|---|---|---|---|\n")
	for _, r := range rep.Results {
		if len(r.Torch) == 0 {
			fmt.Fprintf(&b, "| %d | %.0f | %.0f | – | – | – |\n", r.Threads, r.GoHeapInuseMiB, r.GoMaxRSSMiB)
		}
		for _, t := range r.Torch {
			fmt.Fprintf(&b, "| %d | %.0f | %.0f | %s | %.0f | %.2f |\n", r.Threads, r.GoHeapInuseMiB, r.GoMaxRSSMiB, t.Setup, t.MaxRSSMiB, r.GoMaxRSSMiB/t.MaxRSSMiB)
		}
	}
	return b.String()
}
