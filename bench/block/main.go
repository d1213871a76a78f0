// Command block times the reference block of shared/design/performance.md
// side by side in bfc's generated Go (bench/referencemodel, parity/reference.bf
// at full size) and in PyTorch (torch_block.py, run as a subprocess with
// /usr/bin/python3), forward and forward+backward, at each thread count, in
// one run, and prints medians, the ratio Go/PyTorch and peak memory.
//
//	go run ./bench/block [-threads 1,2] [-runs 3] [-warmup 1] [-rounds 1] [-json] [-torch=false] [-precision bf16]
//
// With -precision bf16 it times the block in bfc's bf16 precision
// (bench/referencebf16) and in float32 side by side, against PyTorch under
// torch.autocast("cpu", dtype=torch.bfloat16) (forward under autocast,
// backward outside it, float32 parameters), naming the CPU's bf16 units.
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
// subprocess's peak resident set (VmHWM; interpreter and libraries
// included).
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
	"github.com/bfcdev/bfc/bench/referencebf16"
	"github.com/bfcdev/bfc/bench/referencemodel"
	"github.com/bfcdev/bfc/runtime/kernels"
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
	bf16    bool
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
	precision := fs.String("precision", "float32", "float32, or bf16: bfc's bf16 and float32 builds against PyTorch under bf16 autocast")
	fs.StringVar(&peer.Python, "python", peer.Python, "the Python interpreter that runs the peers (Debian's by default, as in performance.md; another one, such as a virtual environment's, times the packages installed there)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch *precision {
	case "float32":
	case "bf16":
		c.bf16 = true
	default:
		return c, fmt.Errorf("-precision %q: want float32 or bf16", *precision)
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
	// GoArenaMiB is the heap New takes for the float32 model (arenas and
	// workspaces).
	GoArenaMiB float64 `json:"go_arena_mib"`
	// BF16 is the bf16 build's side (-precision bf16); its peak HeapInuse
	// includes the float32 model's arenas, as the float32 side's includes
	// the bf16 model's.
	BF16  *GoSide `json:"go_bf16,omitempty"`
	Torch []Torch `json:"torch,omitempty"`
}

// GoSide is one more generated build's measurements.
type GoSide struct {
	ForwardMs     float64 `json:"forward_ms"`
	ForwardBackMs float64 `json:"forward_backward_ms"`
	HeapInuseMiB  float64 `json:"peak_heap_inuse_mib"`
	ArenaMiB      float64 `json:"arena_mib"`
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
	Date string `json:"date"`
	CPU  string `json:"cpu"`
	// Precision is float32, or bf16 (with the CPU's bf16 features and
	// the implementation bfc runs).
	Precision string   `json:"precision"`
	CPUBF16   string   `json:"cpu_bf16,omitempty"`
	BF16Impl  string   `json:"bfc_bf16_impl,omitempty"`
	Go        string   `json:"go"`
	Torch     string   `json:"torch,omitempty"`
	Setups    []string `json:"torch_setups,omitempty"`
	Runs      int      `json:"runs"`
	Warmup    int      `json:"warmup"`
	Rounds    int      `json:"rounds"`
	Results   []Result `json:"results"`
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
	rep := Report{Date: time.Now().UTC().Format(time.RFC3339), CPU: peer.CPUName(), Go: runtime.Version(), Precision: "float32", Runs: c.runs, Warmup: c.warmup, Rounds: max(c.rounds, 1)}
	if c.bf16 {
		rep.Precision, rep.CPUBF16, rep.BF16Impl = "bf16", peer.BF16Features(), kernels.BF16Impl()
	}
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
	var arena, arena16 uint64
	m := newModel(&arena, func() model { return referencemodel.New(referencemodel.Options{Seed: 1}) })
	var m16 model
	if c.bf16 {
		m16 = newModel(&arena16, func() model { return referencebf16.New(referencebf16.Options{Seed: 1}) })
	}
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
		res := Result{Threads: th, GoArenaMiB: mib(arena)}
		runtime.GOMAXPROCS(th)
		var side16 GoSide
		var peak, peak16 uint64
		res.Torch = make([]Torch, len(setups))
		for round := range max(c.rounds, 1) {
			f, fb, err := timeModel(c, m, tokens, targets, &peak)
			if err != nil {
				return fmt.Errorf("generated Go forward: %v", err)
			}
			if round == 0 || f < res.GoForwardMs {
				res.GoForwardMs = f
			}
			if round == 0 || fb < res.GoForwardBackMs {
				res.GoForwardBackMs = fb
			}
			if m16 != nil {
				f, fb, err := timeModel(c, m16, tokens, targets, &peak16)
				if err != nil {
					return fmt.Errorf("generated Go forward (bf16): %v", err)
				}
				if round == 0 || f < side16.ForwardMs {
					side16.ForwardMs = f
				}
				if round == 0 || fb < side16.ForwardBackMs {
					side16.ForwardBackMs = fb
				}
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
		if m16 != nil {
			side16.HeapInuseMiB, side16.ArenaMiB = mib(peak16), mib(arena16)
			res.BF16 = &side16
		}
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

// model is a generated reference model.
type model interface {
	Forward(tokens, targets []int32, batch, seq int) (float32, error)
	Backward()
}

// newModel runs mk and stores in arena the heap it took.
func newModel(arena *uint64, mk func() model) model {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapInuse
	m := mk()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	*arena = ms.HeapInuse - min(before, ms.HeapInuse)
	return m
}

// timeModel returns m's median forward and forward+backward ms, raising
// peak to the largest HeapInuse seen after a pass.
func timeModel(c config, m model, tokens, targets []int32, peak *uint64) (f, fb float64, err error) {
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		*peak = max(*peak, ms.HeapInuse)
	}
	fwd := func() {
		if _, e := m.Forward(tokens, targets, referencemodel.MaxBatch, referencemodel.MaxSeq); e != nil {
			err = e
		}
	}
	f = median(c, func() { fwd(); sample() })
	fb = median(c, func() { fwd(); m.Backward(); sample() })
	return f, fb, err
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
	if c.bf16 {
		cmd.Args = append(cmd.Args, "--autocast")
	}
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
		VmHWMMiB      float64 `json:"vmhwm_mib"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		return Torch{}, fmt.Errorf("PyTorch (%s, %d threads): unreadable output %q: %v", s.Name, threads, out, err)
	}
	if v.Threads != threads {
		return Torch{}, fmt.Errorf("PyTorch (%s): asked for %d threads, runs %d", s.Name, threads, v.Threads)
	}
	t := Torch{Setup: s.Name, ForwardMs: v.ForwardMs, ForwardBackMs: v.ForwardBackMs}
	// The script's own VmHWM: the child's ru_maxrss includes the Go
	// process's peak, which Linux carries across fork and exec.
	t.MaxRSSMiB = v.VmHWMMiB
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && t.MaxRSSMiB == 0 {
		t.MaxRSSMiB = float64(ru.Maxrss) / 1024
	}
	return t, nil
}

// formatTable renders the report as a Markdown table: per thread count and
// pass, generated Go's median, each PyTorch set-up's and the ratio.
func formatTable(rep Report) string {
	if rep.Precision == "bf16" {
		return formatTableBF16(rep)
	}
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
	b.WriteString("\npeak memory, MiB (Go: peak HeapInuse after a pass, and process ru_maxrss so far; PyTorch: the subprocess's VmHWM)\n\n")
	b.WriteString("| threads | Go HeapInuse | Go ru_maxrss | PyTorch set-up | PyTorch VmHWM | Go ru_maxrss/PyTorch VmHWM |\n|---|---|---|---|---|---|\n")
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

// formatTableBF16 renders a -precision bf16 report: bfc bf16 and float32
// against PyTorch under bf16 autocast.
func formatTableBF16(rep Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "reference block (parity/reference.bf, batch 8 × seq 256, d 256) in bf16 precision, %s\n", rep.Date)
	fmt.Fprintf(&b, "CPU %s (bf16: %s; bfc runs %s); %s", rep.CPU, rep.CPUBF16, rep.BF16Impl, rep.Go)
	if rep.Torch != "" {
		fmt.Fprintf(&b, "; PyTorch %s under torch.autocast(\"cpu\", dtype=torch.bfloat16) (%s)", rep.Torch, strings.Join(rep.Setups, "; "))
	}
	fmt.Fprintf(&b, "\nms: median of %d runs after %d warm-up; with %d rounds in which Go and PyTorch take turns, each side's best round\n\n", rep.Runs, rep.Warmup, rep.Rounds)
	b.WriteString("| threads | pass | bfc bf16 ms | bfc float32 ms | bf16/float32 | PyTorch set-up | PyTorch autocast ms | bfc bf16/PyTorch |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range rep.Results {
		if r.BF16 == nil {
			continue
		}
		for _, p := range []struct {
			name       string
			ms16, ms32 float64
			tMs        func(Torch) float64
		}{
			{"forward", r.BF16.ForwardMs, r.GoForwardMs, func(t Torch) float64 { return t.ForwardMs }},
			{"forward+backward", r.BF16.ForwardBackMs, r.GoForwardBackMs, func(t Torch) float64 { return t.ForwardBackMs }},
		} {
			if len(r.Torch) == 0 {
				fmt.Fprintf(&b, "| %d | %s | %.1f | %.1f | %.2f | – | – | – |\n", r.Threads, p.name, p.ms16, p.ms32, p.ms16/p.ms32)
			}
			for _, t := range r.Torch {
				tm := p.tMs(t)
				fmt.Fprintf(&b, "| %d | %s | %.1f | %.1f | %.2f | %s | %.1f | %.2f |\n", r.Threads, p.name, p.ms16, p.ms32, p.ms16/p.ms32, t.Setup, tm, p.ms16/tm)
			}
		}
	}
	b.WriteString("\nmemory, MiB (arena: the heap New takes; peak: HeapInuse after a pass, both models allocated; PyTorch: the subprocess's VmHWM)\n\n")
	b.WriteString("| threads | bf16 arena | float32 arena | bf16 peak | float32 peak | Go ru_maxrss | PyTorch set-up | PyTorch VmHWM |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range rep.Results {
		if r.BF16 == nil {
			continue
		}
		if len(r.Torch) == 0 {
			fmt.Fprintf(&b, "| %d | %.0f | %.0f | %.0f | %.0f | %.0f | – | – |\n", r.Threads, r.BF16.ArenaMiB, r.GoArenaMiB, r.BF16.HeapInuseMiB, r.GoHeapInuseMiB, r.GoMaxRSSMiB)
		}
		for _, t := range r.Torch {
			fmt.Fprintf(&b, "| %d | %.0f | %.0f | %.0f | %.0f | %.0f | %s | %.0f |\n", r.Threads, r.BF16.ArenaMiB, r.GoArenaMiB, r.BF16.HeapInuseMiB, r.GoHeapInuseMiB, r.GoMaxRSSMiB, t.Setup, t.MaxRSSMiB)
		}
	}
	return b.String()
}
