// Command sgemm times float32 matrix multiplication at the transformer shapes
// of shared/design/performance.md side by side in one run: bfc's Sgemm
// (runtime/kernels.Gemm, the best micro-kernel the CPU has), gonum's Sgemm,
// and numpy on OpenBLAS in each peer set-up (bench/internal/peer), at each
// thread count, printing GFLOP/s and bfc's ratio to each.
//
//	go run ./bench/sgemm [-threads 1,2] [-runs 5] [-rounds 3] [-json] [-peers=false] [-dtype bf16]
//
// With -dtype bf16 it times bfc's bf16 GEMM (kernels.GemmBF16 on float32
// matrices, converting as it packs) against torch.matmul on bfloat16
// tensors (oneDNN) in each set-up, with bfc's float32 Gemm beside it.
//
// The machine may be shared, so bfc and the peers take turns shape by
// shape: each peer set-up runs as one numpy process per thread count
// that times the shapes it is sent, and each of -rounds rounds times, for
// every shape, each peer and then bfc, each as the median of -runs after
// 100 ms of warm-up; a side's figure is its best round. gonum, 20 times
// slower, is timed in the first round only.
package main

import (
	"bufio"
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
	"time"

	"gonum.org/v1/gonum/blas"
	gonum "gonum.org/v1/gonum/blas/gonum"

	"github.com/bfcdev/bfc/bench/internal/peer"
	"github.com/bfcdev/bfc/runtime/kernels"
)

//go:embed sgemm.py
var numpyScript []byte

//go:embed bgemm.py
var torchScript []byte

// shapes are performance.md's M×K×N.
var shapes = [][3]int{{512, 512, 512}, {1024, 256, 1024}, {4096, 256, 1024}, {4096, 512, 2048}}

type config struct {
	shapes  [][3]int
	threads []int
	runs    int
	rounds  int
	json    bool
	peers   bool
	bf16    bool
}

func parseFlags(args []string, errOut io.Writer) (config, error) {
	fs := flag.NewFlagSet("sgemm", flag.ContinueOnError)
	fs.SetOutput(errOut)
	threads := fs.String("threads", "1,2", "comma-separated thread counts")
	c := config{shapes: shapes}
	fs.IntVar(&c.runs, "runs", 5, "timed runs per shape after 100 ms of warm-up; a round's figure is their median")
	fs.IntVar(&c.rounds, "rounds", 3, "rounds in which bfc and the peers take turns; each side's best round is reported")
	fs.BoolVar(&c.json, "json", false, "print JSON instead of a table")
	fs.BoolVar(&c.peers, "peers", true, "also time numpy/OpenBLAS (false: bfc and gonum only)")
	dtype := fs.String("dtype", "float32", "float32 (bfc against numpy on OpenBLAS) or bf16 (bfc's bf16 GEMM against torch.matmul on bfloat16 tensors)")
	fs.StringVar(&peer.Python, "python", peer.Python, "the Python interpreter that runs the peers (Debian's by default, as in performance.md; another one, such as a virtual environment's, times the packages installed there)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch *dtype {
	case "float32":
	case "bf16":
		c.bf16 = true
	default:
		return c, fmt.Errorf("-dtype %q: want float32 or bf16", *dtype)
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
	return c, nil
}

// Row is one shape at one thread count, in GFLOP/s.
type Row struct {
	Threads int     `json:"threads"`
	Shape   string  `json:"shape"`
	BFC     float64 `json:"bfc_gflops"`
	// BFC32 is bfc's float32 Gemm beside the bf16 one (-dtype bf16).
	BFC32 float64            `json:"bfc_float32_gflops,omitempty"`
	Gonum float64            `json:"gonum_gflops,omitempty"`
	Peers map[string]float64 `json:"peers_gflops,omitempty"`
}

// Report is the whole run.
type Report struct {
	Date   string `json:"date"`
	CPU    string `json:"cpu"`
	Go     string `json:"go"`
	DType  string `json:"dtype"`
	Kernel string `json:"bfc_kernel"`
	// BF16 lists the CPU's bf16 features (-dtype bf16).
	BF16   string   `json:"cpu_bf16,omitempty"`
	Setups []string `json:"peer_setups,omitempty"`
	Runs   int      `json:"runs"`
	Rounds int      `json:"rounds"`
	Rows   []Row    `json:"rows"`
}

func main() {
	c, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "bench/sgemm:", err)
		os.Exit(2)
	}
	if err := run(c, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench/sgemm:", err)
		os.Exit(1)
	}
}

func shapeName(s [3]int) string { return fmt.Sprintf("%dx%dx%d", s[0], s[1], s[2]) }

func gflops(s [3]int, sec float64) float64 { return 2 * float64(s[0]*s[1]*s[2]) / sec / 1e9 }

// warmup is how long each side runs a shape untimed before its timed
// runs: long enough for idle cores to come back to full speed (on this
// project's VM the second core needs tens of milliseconds after a pause,
// while one 512×512×512 product takes one), the same for bfc and the
// peers (sgemm.py --warmup).
const warmup = 100 * time.Millisecond

func median(runs int, f func()) float64 {
	for t := time.Now(); time.Since(t) < warmup; {
		f()
	}
	ts := make([]float64, runs)
	for i := range ts {
		t := time.Now()
		f()
		ts[i] = time.Since(t).Seconds()
	}
	slices.Sort(ts)
	return ts[runs/2]
}

func run(c config, out io.Writer) error {
	rep := Report{Date: time.Now().UTC().Format(time.RFC3339), CPU: peer.CPUName(), Go: runtime.Version(), DType: "float32", Kernel: kernels.SgemmKernel(), Runs: c.runs, Rounds: c.rounds}
	script := numpyScript
	if c.bf16 {
		rep.DType, rep.Kernel, rep.BF16 = "bf16", kernels.BF16Impl(), peer.BF16Features()
		script = torchScript
	}
	var setups []peer.Setup
	var scriptPath string
	if c.peers {
		var err error
		if setups, err = peer.Setups(); err != nil {
			return fmt.Errorf("%v; pass -peers=false to time bfc and gonum alone", err)
		}
		for _, s := range setups {
			rep.Setups = append(rep.Setups, s.Name)
		}
		dir, err := os.MkdirTemp("", "bfc-bench-sgemm")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		scriptPath = filepath.Join(dir, "peer.py")
		if err := os.WriteFile(scriptPath, script, 0o644); err != nil {
			return err
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	prev := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(prev)
	var impl gonum.Implementation
	type mats struct{ a, b, c []float32 }
	ms := make([]mats, len(c.shapes))
	for i, s := range c.shapes {
		m, k, n := s[0], s[1], s[2]
		ms[i] = mats{make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)}
		for j := range ms[i].a {
			ms[i].a[j] = r.Float32() - 0.5
		}
		for j := range ms[i].b {
			ms[i].b[j] = r.Float32() - 0.5
		}
	}
	for _, th := range c.threads {
		runtime.GOMAXPROCS(th)
		rows := make([]Row, len(c.shapes))
		for i, s := range c.shapes {
			rows[i] = Row{Threads: th, Shape: shapeName(s)}
			if len(setups) > 0 {
				rows[i].Peers = map[string]float64{}
			}
		}
		var servers []*numpyServer
		for _, s := range setups {
			srv, err := startNumpy(scriptPath, s, th, c.runs)
			if err != nil {
				closeAll(servers)
				return err
			}
			servers = append(servers, srv)
		}
		for round := range c.rounds {
			for i, s := range c.shapes {
				for _, srv := range servers {
					gf, err := srv.time(s)
					if err != nil {
						closeAll(servers)
						return err
					}
					rows[i].Peers[srv.name] = max(rows[i].Peers[srv.name], gf)
				}
				m, k, n := s[0], s[1], s[2]
				x := ms[i]
				if c.bf16 {
					rows[i].BFC = max(rows[i].BFC, gflops(s, median(c.runs, func() { kernels.GemmBF16(false, false, m, n, k, 1, x.a, k, x.b, n, 0, x.c, n) })))
					rows[i].BFC32 = max(rows[i].BFC32, gflops(s, median(c.runs, func() { kernels.Gemm(false, false, m, n, k, 1, x.a, k, x.b, n, 0, x.c, n) })))
					continue
				}
				rows[i].BFC = max(rows[i].BFC, gflops(s, median(c.runs, func() { kernels.Gemm(false, false, m, n, k, 1, x.a, k, x.b, n, 0, x.c, n) })))
				if round == 0 {
					rows[i].Gonum = gflops(s, median(c.runs, func() {
						impl.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, x.a, k, x.b, n, 0, x.c, n)
					}))
				}
			}
		}
		if err := closeAll(servers); err != nil {
			return err
		}
		rep.Rows = append(rep.Rows, rows...)
	}
	if c.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	_, err := io.WriteString(out, formatTable(rep))
	return err
}

// A numpyServer is sgemm.py running in one peer set-up at one thread
// count, timing the shapes it is sent one at a time.
type numpyServer struct {
	name    string
	threads int
	cmd     *exec.Cmd
	in      io.WriteCloser
	out     *bufio.Scanner
	stderr  strings.Builder
	waited  bool
	werr    error
}

// stop closes the server's input, which ends it, and waits for it; only
// then may its stderr be read.
func (p *numpyServer) stop() error {
	if !p.waited {
		p.in.Close()
		p.werr, p.waited = p.cmd.Wait(), true
	}
	return p.werr
}

func startNumpy(script string, s peer.Setup, threads, runs int) (*numpyServer, error) {
	p := &numpyServer{name: s.Name, threads: threads}
	p.cmd = exec.Command(peer.Python, script, "--runs", strconv.Itoa(runs), "--warmup", strconv.FormatFloat(warmup.Seconds(), 'g', -1, 64))
	p.cmd.Env = peer.Threads(s.Env, threads)
	p.cmd.Stderr = &p.stderr
	var err error
	if p.in, err = p.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p.out = bufio.NewScanner(out)
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("numpy (%s, %d threads): %v", s.Name, threads, err)
	}
	return p, nil
}

// time has the server time one shape and returns its GFLOP/s.
func (p *numpyServer) time(sh [3]int) (float64, error) {
	name := shapeName(sh)
	fail := func(format string, args ...any) (float64, error) {
		msg := fmt.Sprintf(format, args...)
		p.stop()
		if e := strings.TrimSpace(p.stderr.String()); e != "" {
			msg += "\n" + e
		}
		return 0, fmt.Errorf("numpy (%s, %d threads): %s", p.name, p.threads, msg)
	}
	if _, err := fmt.Fprintln(p.in, name); err != nil {
		return fail("no answer for %s (%v)", name, err)
	}
	if !p.out.Scan() {
		return fail("no answer for %s", name)
	}
	var v struct {
		Shape   string  `json:"shape"`
		Seconds float64 `json:"seconds"`
	}
	if err := json.Unmarshal(p.out.Bytes(), &v); err != nil {
		return fail("unreadable answer %q: %v", p.out.Bytes(), err)
	}
	if v.Shape != name || v.Seconds <= 0 {
		return fail("unexpected result %+v for %s", v, name)
	}
	// Whatever runs next waits for the BLAS threads to stop polling.
	peer.WaitIdle(p.cmd.Process.Pid, 2*time.Second)
	return gflops(sh, v.Seconds), nil
}

// closeAll ends the servers and returns the first error.
func closeAll(servers []*numpyServer) error {
	var first error
	for _, p := range servers {
		if err := p.stop(); err != nil && first == nil {
			first = fmt.Errorf("numpy (%s, %d threads): %v\n%s", p.name, p.threads, err, p.stderr.String())
		}
	}
	return first
}

func formatTable(rep Report) string {
	var b strings.Builder
	if rep.DType == "bf16" {
		return formatTableBF16(rep)
	}
	fmt.Fprintf(&b, "float32 GEMM C = A·B (M×K×N), %s\nCPU %s; %s; bfc kernel %s", rep.Date, rep.CPU, rep.Go, rep.Kernel)
	if len(rep.Setups) > 0 {
		fmt.Fprintf(&b, "; numpy peers: %s", strings.Join(rep.Setups, "; "))
	}
	fmt.Fprintf(&b, "\nGFLOP/s: best of %d alternating rounds, each the median of %d runs after 100 ms of warm-up, once the peer's threads are idle; ratios are bfc / peer\n\n", rep.Rounds, rep.Runs)
	b.WriteString("| threads | shape | bfc | gonum | bfc/gonum |")
	for _, s := range rep.Setups {
		fmt.Fprintf(&b, " OpenBLAS %s | bfc/OpenBLAS |", s)
	}
	b.WriteString("\n|---|---|---|---|---|" + strings.Repeat("---|---|", len(rep.Setups)) + "\n")
	for _, r := range rep.Rows {
		fmt.Fprintf(&b, "| %d | %s | %.1f | %.1f | %.1f |", r.Threads, r.Shape, r.BFC, r.Gonum, r.BFC/r.Gonum)
		for _, s := range rep.Setups {
			p := r.Peers[s]
			fmt.Fprintf(&b, " %.1f | %.2f |", p, r.BFC/p)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func formatTableBF16(rep Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "bf16 GEMM C = A·B (M×K×N; bfloat16 operands, float32 sums), %s\nCPU %s (bf16: %s); %s; bfc kernel %s", rep.Date, rep.CPU, rep.BF16, rep.Go, rep.Kernel)
	if len(rep.Setups) > 0 {
		fmt.Fprintf(&b, "; torch.matmul on bfloat16 tensors in: %s", strings.Join(rep.Setups, "; "))
	}
	fmt.Fprintf(&b, "\nGFLOP/s: best of %d alternating rounds, each the median of %d runs after 100 ms of warm-up; bfc converts its float32 operands as it packs, torch's are bfloat16 already; ratios are bfc bf16 / peer\n\n", rep.Rounds, rep.Runs)
	b.WriteString("| threads | shape | bfc bf16 | bfc float32 | bf16/float32 |")
	for _, s := range rep.Setups {
		fmt.Fprintf(&b, " torch %s | bfc/torch |", s)
	}
	b.WriteString("\n|---|---|---|---|---|" + strings.Repeat("---|---|", len(rep.Setups)) + "\n")
	for _, r := range rep.Rows {
		fmt.Fprintf(&b, "| %d | %s | %.1f | %.1f | %.2f |", r.Threads, r.Shape, r.BFC, r.BFC32, r.BFC/r.BFC32)
		for _, s := range rep.Setups {
			p := r.Peers[s]
			fmt.Fprintf(&b, " %.1f | %.2f |", p, r.BFC/p)
		}
		b.WriteString("\n")
	}
	return b.String()
}
