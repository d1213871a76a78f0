package peer

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakePython installs a shell script as Python that reports the OpenBLAS
// core the real library would: Prescott unless OPENBLAS_CORETYPE is set.
func fakePython(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	script := `#!/bin/sh
if [ "$OPENBLAS_VERBOSE" = 2 ]; then echo "Core: ${OPENBLAS_CORETYPE:-Prescott}" >&2; fi
`
	p := filepath.Join(dir, "python3")
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	old, oldBLAS := Python, OpenMPBLAS
	Python = p
	OpenMPBLAS = filepath.Join(dir, "openblas-openmp")
	t.Cleanup(func() { Python, OpenMPBLAS = old, oldBLAS })
}

func TestBaseEnvDropsOpenBLASOverrides(t *testing.T) {
	t.Setenv("OPENBLAS_CORETYPE", "Haswell")
	t.Setenv("OPENBLAS_L2_SIZE", "1048576")
	for _, kv := range BaseEnv() {
		if strings.HasPrefix(kv, "OPENBLAS_CORETYPE=") || strings.HasPrefix(kv, "OPENBLAS_L2_SIZE=") {
			t.Errorf("BaseEnv keeps %s", kv)
		}
	}
}

func TestCoreParsesOpenBLASReport(t *testing.T) {
	fakePython(t)
	core, err := Core(append(BaseEnv(), "OPENBLAS_CORETYPE=Haswell"))
	if err != nil || core != "Haswell" {
		t.Errorf("Core = %q, %v; want Haswell", core, err)
	}
	core, err = Core(BaseEnv())
	if err != nil || core != "Prescott" {
		t.Errorf("Core = %q, %v; want Prescott", core, err)
	}
}

func TestSetupsWithoutOpenMPBLAS(t *testing.T) {
	fakePython(t)
	s, err := Setups()
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 1 || s[0].Name != "as installed" || s[0].Core != "Prescott" {
		t.Errorf("Setups = %+v; want only as installed, on Prescott", s)
	}
}

func TestBestSetupForcesAVX512Kernels(t *testing.T) {
	fakePython(t)
	if err := os.MkdirAll(OpenMPBLAS, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(OpenMPBLAS, "libopenblas.so.0"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Setups()
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 2 {
		t.Fatalf("Setups = %+v; want two", s)
	}
	best := s[1]
	if !slices.Contains(best.Env, "GLIBC_TUNABLES="+BestTunables) || !slices.ContainsFunc(best.Env, func(kv string) bool {
		return strings.HasPrefix(kv, "LD_LIBRARY_PATH="+OpenMPBLAS)
	}) {
		t.Errorf("best set-up lacks the tunables or the library path: %v", best.Env)
	}
	want := "Prescott"
	if HasAVX512() {
		want = "SkylakeX"
	}
	if best.Core != want || !strings.Contains(best.Name, want+" kernels") {
		t.Errorf("best set-up runs %q (%s); want %s", best.Core, best.Name, want)
	}
}

func TestThreads(t *testing.T) {
	env := Threads([]string{"OMP_NUM_THREADS=8", "HOME=/root"}, 2)
	for _, kv := range []string{"OMP_NUM_THREADS=2", "OPENBLAS_NUM_THREADS=2", "MKL_NUM_THREADS=2", "HOME=/root"} {
		if !slices.Contains(env, kv) {
			t.Errorf("Threads: %v lacks %s", env, kv)
		}
	}
	if slices.Contains(env, "OMP_NUM_THREADS=8") {
		t.Errorf("Threads keeps the old count: %v", env)
	}
}

func TestParseThreads(t *testing.T) {
	got, err := ParseThreads(" 1, 2,16")
	if err != nil || !slices.Equal(got, []int{1, 2, 16}) {
		t.Errorf("ParseThreads = %v, %v", got, err)
	}
	for _, bad := range []string{"", "0", "1,x", "-2", "1,,2"} {
		if _, err := ParseThreads(bad); err == nil || !strings.Contains(err.Error(), "-threads") {
			t.Errorf("ParseThreads(%q) = %v", bad, err)
		}
	}
}

func TestAtLeast(t *testing.T) {
	if err := AtLeast("runs", 1, 1); err != nil {
		t.Error(err)
	}
	if err := AtLeast("runs", 0, 1); err == nil || err.Error() != "-runs must be at least 1, got 0" {
		t.Errorf("AtLeast = %v", err)
	}
}

// TestWaitIdle: WaitIdle waits while a process spins and returns once
// it sleeps. The process is this test binary (see TestMain): it spins
// until it has used 300 ms of CPU, creates a file, and sleeps.
func TestWaitIdle(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	done := filepath.Join(t.TempDir(), "done")
	spin := exec.Command(os.Args[0], "-test.run", "^$")
	spin.Env = append(os.Environ(), "BFC_PEER_TEST_SPIN="+done)
	require.NoError(t, spin.Start())
	defer func() { spin.Process.Kill(); spin.Wait() }()
	require.True(t, WaitIdle(spin.Process.Pid, 20*time.Second), "a process asleep is idle")
	_, err := os.Stat(done)
	require.NoError(t, err, "returned while the process still spun")
	require.False(t, WaitIdle(-1, time.Second), "no such process")
}

func TestMain(m *testing.M) {
	if done := os.Getenv("BFC_PEER_TEST_SPIN"); done != "" {
		for {
			var ru syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
			if time.Duration(ru.Utime.Nano()+ru.Stime.Nano()) >= 300*time.Millisecond {
				break
			}
		}
		os.WriteFile(done, nil, 0o644)
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	os.Exit(m.Run())
}
