// Package peer runs bfc's benchmark peers (PyTorch and numpy on OpenBLAS)
// as subprocesses of Debian's /usr/bin/python3 in the set-ups of
// shared/design/performance.md: "as installed" and the best set-up found
// (OpenMP OpenBLAS, AVX-512 kernels, glibc malloc tunables).
package peer

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/cpu"
)

// Python runs the peers: Debian's interpreter (performance.md). A variable
// for the tests.
var Python = "/usr/bin/python3"

// OpenMPBLAS is where Debian's libopenblas0-openmp puts libopenblas.so.0
// (a variable for the tests).
var OpenMPBLAS = "/usr/lib/x86_64-linux-gnu/openblas-openmp"

// BestTunables are the glibc malloc tunables of the best set-up (the values
// are bfc's choice: the design names the tunables without values).
const BestTunables = "glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=4294967296:glibc.malloc.top_pad=268435456"

// Setup is one way of running a peer: a name and its environment.
type Setup struct {
	Name string
	// Core is the OpenBLAS kernel set the set-up runs ("" when no OpenBLAS
	// is loaded).
	Core string
	Env  []string
}

// BaseEnv is the environment without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE
// (performance.md: the machine's OPENBLAS_CORETYPE=Haswell forces AVX2).
func BaseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "OPENBLAS_CORETYPE=") || strings.HasPrefix(kv, "OPENBLAS_L2_SIZE=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func setenv(env []string, key, value string) []string {
	env = slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, key+"=") })
	return append(env, key+"="+value)
}

var coreLine = regexp.MustCompile(`(?m)^Core: (\S+)`)

// Core returns the kernel set OpenBLAS picks in env ("" when numpy does not
// load OpenBLAS), from OpenBLAS's OPENBLAS_VERBOSE=2 report.
func Core(env []string) (string, error) {
	cmd := exec.Command(Python, "-c", "import numpy; numpy.ones((2, 2), numpy.float32) @ numpy.ones((2, 2), numpy.float32)")
	cmd.Env = setenv(env, "OPENBLAS_VERBOSE", "2")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s cannot import numpy: %v\n%s", Python, err, out)
	}
	if m := coreLine.FindSubmatch(out); m != nil {
		return string(m[1]), nil
	}
	return "", nil
}

// avx512Cores are OpenBLAS 0.3.21's kernel sets with AVX-512 GEMM kernels.
var avx512Cores = []string{"SkylakeX", "Cooperlake", "SapphireRapids"}

// Setups returns the peer set-ups this machine has: "as installed" always,
// and where libopenblas0-openmp is installed the best set-up of
// performance.md. OpenBLAS 0.3.21 does not recognise every CPU (this
// project's Xeon VM, family 6 model 207, gets the generic Prescott kernels),
// so where the CPU has AVX-512 and OpenBLAS's own choice lacks it, the best
// set-up names OPENBLAS_CORETYPE=SkylakeX.
func Setups() ([]Setup, error) {
	base := BaseEnv()
	core, err := Core(base)
	if err != nil {
		return nil, err
	}
	s := []Setup{{Name: "as installed", Core: core, Env: base}}
	if _, err := os.Stat(filepath.Join(OpenMPBLAS, "libopenblas.so.0")); err != nil {
		return s, nil
	}
	env := slices.DeleteFunc(slices.Clone(base), func(kv string) bool {
		return strings.HasPrefix(kv, "LD_LIBRARY_PATH=") || strings.HasPrefix(kv, "GLIBC_TUNABLES=")
	})
	ld := OpenMPBLAS
	if v := os.Getenv("LD_LIBRARY_PATH"); v != "" {
		ld += ":" + v
	}
	env = append(env, "LD_LIBRARY_PATH="+ld, "GLIBC_TUNABLES="+BestTunables)
	core, err = Core(env)
	if err != nil {
		return nil, err
	}
	if HasAVX512() && !slices.Contains(avx512Cores, core) {
		env = setenv(env, "OPENBLAS_CORETYPE", "SkylakeX")
		if core, err = Core(env); err != nil {
			return nil, err
		}
	}
	name := "best (OpenMP OpenBLAS"
	if core != "" {
		name += ", " + core + " kernels"
	}
	name += ", malloc tunables)"
	return append(s, Setup{Name: name, Core: core, Env: env}), nil
}

// HasAVX512 reports whether the CPU has the AVX-512 subsets OpenBLAS's
// SkylakeX kernels use.
func HasAVX512() bool {
	return cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512CD
}

// Threads returns env with every thread-count variable OpenBLAS and OpenMP
// read set to n.
func Threads(env []string, n int) []string {
	v := fmt.Sprint(n)
	for _, k := range []string{"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"} {
		env = setenv(env, k, v)
	}
	return env
}

// CPUName is the CPU's model name from /proc/cpuinfo and the CPU count.
func CPUName() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return fmt.Sprintf("%s (%d CPUs)", strings.TrimSpace(v), runtime.NumCPU())
			}
		}
	}
	return fmt.Sprintf("%d CPUs", runtime.NumCPU())
}

// ParseThreads parses a -threads flag: comma-separated positive integers.
func ParseThreads(s string) ([]int, error) {
	var ts []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-threads: %q is not a positive integer", f)
		}
		ts = append(ts, n)
	}
	return ts, nil
}

// AtLeast checks that the flag name's value v is at least lo.
func AtLeast(name string, v, lo int) error {
	if v < lo {
		return fmt.Errorf("-%s must be at least %d, got %d", name, lo, v)
	}
	return nil
}

// BF16Features lists the CPU's bfloat16 instructions: AMX-BF16,
// AVX512_BF16, or none.
func BF16Features() string {
	var f []string
	if cpu.X86.HasAMXBF16 {
		f = append(f, "AMX-BF16")
	}
	if cpu.X86.HasAVX512BF16 {
		f = append(f, "AVX512_BF16")
	}
	if len(f) == 0 {
		return "none"
	}
	return strings.Join(f, ", ")
}
