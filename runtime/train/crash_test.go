package train

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bfcdev/bfc/runtime/optim"
	"github.com/bfcdev/bfc/runtime/tensor"
)

// crashEnv switches the test binary into the saver that
// TestCrashDuringSave kills.
const crashEnv = "BFC_TRAIN_CRASH_SAVER"

const crashSig = "crash test data"

func crashParams() []tensor.Param[float32] {
	return []tensor.Param[float32]{
		tensor.NewParam[float32]("experts.w", []int{4, 256, 1024}, true),
		tensor.NewParam[float32]("norm.g", []int{1000}, false),
	}
}

// crashValue is element i of tensor k (0 parameters, 1 and 2 AdamW's m
// and v) in the state written at step s.
func crashValue(s, k, i int) float32 {
	return float32(s)*1000 + float32(k)*100 + float32(i%97)
}

func crashRNG(s int) [2]uint64 { return [2]uint64{uint64(s), uint64(s) * 0x9e3779b97f4a7c15} }

// saveCrashState writes the training checkpoint of step s.
func saveCrashState(path string, s int) error {
	params := crashParams()
	st := optim.State{Kind: "adamw", Step: s, Settings: optim.NewAdamW(optim.AdamWConfig{}).ExportState().Settings}
	for _, p := range params {
		for i := range p.Data {
			p.Data[i] = crashValue(s, 0, i)
		}
		m, v := make([]float32, len(p.Data)), make([]float32, len(p.Data))
		for i := range m {
			m[i], v[i] = crashValue(s, 1, i), crashValue(s, 2, i)
		}
		st.Tensors = append(st.Tensors, optim.StateTensor{Name: p.Name + ".m", Shape: []int{len(m)}, F32: m},
			optim.StateTensor{Name: p.Name + ".v", Shape: []int{len(v)}, F32: v})
	}
	opt := adamw{optim.NewAdamW(optim.AdamWConfig{})}
	if err := opt.restore(params, st); err != nil {
		return err
	}
	cfg := bigramConfig()
	return saveState(path, params, opt, &cfg, crashSig, &runState{step: s, resultSteps: s, tokens: int64(s) * 32, rng: crashRNG(s)})
}

// checkCrashState loads the checkpoint at path as a resumed run would and
// returns its step after checking every value against that step's state.
func checkCrashState(path string) (int, error) {
	params := crashParams()
	opt := adamw{optim.NewAdamW(optim.AdamWConfig{})}
	cfg := bigramConfig()
	st, err := loadState(path, params, opt, &cfg, crashSig)
	if err != nil {
		return 0, err
	}
	s := st.step
	if st.rng != crashRNG(s) || st.tokens != int64(s)*32 || st.resultSteps != s {
		return s, fmt.Errorf("step %d: scalars %v %d %d are not step %d's", s, st.rng, st.tokens, st.resultSteps, s)
	}
	ost := opt.export()
	if ost.Step != s {
		return s, fmt.Errorf("step %d: optimizer step %d", s, ost.Step)
	}
	for j, p := range params {
		for k, x := range [][]float32{p.Data, ost.Tensors[2*j].F32, ost.Tensors[2*j+1].F32} {
			for i, v := range x {
				if v != crashValue(s, k, i) {
					return s, fmt.Errorf("step %d: %s tensor %d [%d] = %v, want %v", s, p.Name, k, i, v, crashValue(s, k, i))
				}
			}
		}
	}
	return s, nil
}

// TestCrashSaverHelper is the subprocess of TestCrashDuringSave: it saves
// the checkpoints of steps after the one on disk until killed, printing
// "saved N" after each.
func TestCrashSaverHelper(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		return // only as a subprocess
	}
	path := filepath.Join(dir, "ckpt.safetensors")
	s, err := checkCrashState(path)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	for s++; ; s++ {
		if err := saveCrashState(path, s); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("saved", s)
	}
}

// TestCrashDuringSave kills a process that saves ~12 MB checkpoints in a
// loop with SIGKILL at several delays, and checks each time that the
// checkpoint loads and holds a whole state: the last one acknowledged or
// the one being saved, never a mix or a torn file. Temporary files the
// kills leave are never read, and the next save removes them.
func TestCrashDuringSave(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.safetensors")
	if err := saveCrashState(path, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := checkCrashState(path); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := saveCrashState(path, 2); err != nil {
		t.Fatal(err)
	}
	save := time.Since(start)
	t.Logf("one save: %v", save)
	last := 2
	leftovers := 0
	// Each kill comes after a save completed: at a fraction of a save's
	// time, or that long after the next save's temporary file appeared,
	// so that the kills fall at different points of the next save.
	temps := filepath.Join(dir, ".ckpt.safetensors.tmp*")
	kills := []struct {
		frac   float64
		inTemp bool
	}{{0, false}, {0.5, false}, {0, true}, {0.02, true}, {0.05, true}, {0.1, true}, {0.2, true}, {0.4, true}, {0.8, true}}
	for _, kill := range kills {
		delay := time.Duration(kill.frac * float64(save))
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashSaverHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		acked, lines := 0, []string{}
		ready := make(chan struct{}) // closed at the first save
		readyc := ready
		done := make(chan struct{})
		go func() {
			defer close(done)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				line := sc.Text()
				mu.Lock()
				lines = append(lines, line)
				if n, ok := strings.CutPrefix(line, "saved "); ok {
					acked, _ = strconv.Atoi(n)
				}
				mu.Unlock()
				if strings.HasPrefix(line, "saved ") && ready != nil {
					close(ready)
					ready = nil
				}
			}
		}()
		select {
		case <-readyc:
		case <-done:
		case <-time.After(30 * time.Second):
		}
		for deadline := time.Now().Add(10 * save); kill.inTemp && time.Now().Before(deadline); time.Sleep(200 * time.Microsecond) {
			if m, _ := filepath.Glob(temps); len(m) > 0 {
				break
			}
		}
		time.Sleep(delay)
		if err := cmd.Process.Kill(); err != nil { // SIGKILL
			t.Fatal(err)
		}
		<-done
		err = cmd.Wait()
		mu.Lock()
		if !slices.Contains(lines, "ready") {
			t.Fatalf("the saver did not start: %v\n%s", err, strings.Join(lines, "\n"))
		}
		got, err := checkCrashState(path)
		if err != nil {
			t.Fatalf("after a kill at %v (%d saves acknowledged): %v", delay, acked, err)
		}
		if got < max(last, acked) || got > max(last, acked)+1 {
			t.Fatalf("after a kill at %v: the checkpoint holds step %d; the last acknowledged save was step %d (before: %d)", delay, got, acked, last)
		}
		left, _ := filepath.Glob(temps)
		leftovers += len(left)
		if len(left) > 1 {
			t.Fatalf("after a kill: %d temporary files; the acknowledged save should have removed earlier ones: %v", len(left), left)
		}
		when := "a save"
		if kill.inTemp {
			when = "a temporary file appeared"
		}
		t.Logf("kill %v after %s: steps %d to %d acknowledged, checkpoint at step %d, %d temporary files left", delay, when, last+1, acked, got, len(left))
		last = got
		mu.Unlock()
	}
	// The next save removes what the kills left.
	if err := saveCrashState(path, last+1); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("after a clean save the directory holds %v", names)
	}
	t.Logf("%d temporary files left by kills in all", leftovers)
}
