package parity

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/bfcdev/bfc/parity/densemodel"
	"github.com/bfcdev/bfc/runtime/safetensors"
	"github.com/bfcdev/bfc/runtime/tensor"
)

// python is Debian's interpreter, the one python3-torch installs into.
const python = "/usr/bin/python3"

// Tolerance: the generated model computes in float32, the twin in float64, so
// the difference is float32 rounding accumulated over two blocks. Gradient
// elements are sums of many terms with cancellation, and their rounding error
// scales with the terms, not with the (possibly tiny) sum: an element far below
// its tensor's largest carries an error relative to that tensor's scale. So an
// element passes when
//
//	|go - torch| <= relTol * max(|torch|, floor),  floor = max(absFloor, floorFrac * max|torch of the tensor|)
//
// Observed on this model: max|go - torch| / max|torch| below 1e-6 for every
// tensor (see docs/parity.md), 10x or more inside the bound.
const (
	relTol    = 1e-4
	absFloor  = 1e-6
	floorFrac = 0.1
)

var (
	torchOnce sync.Once
	torchErr  error
)

// requireTorch skips the test, saying why, where /usr/bin/python3 cannot
// import torch and numpy; with CI=1 or BFC_REQUIRE_TORCH=1 it fails instead.
func requireTorch(t *testing.T) {
	t.Helper()
	torchOnce.Do(func() {
		out, err := exec.Command(python, "-c", "import torch, numpy").CombinedOutput()
		if err != nil {
			torchErr = fmt.Errorf("%s cannot import torch and numpy (%v)", python, err)
			if msg := strings.TrimSpace(string(out)); msg != "" {
				torchErr = fmt.Errorf("%w: %s", torchErr, msg)
			}
		}
	})
	if torchErr == nil {
		return
	}
	if os.Getenv("CI") == "1" || os.Getenv("BFC_REQUIRE_TORCH") == "1" {
		t.Fatalf("parity with PyTorch is required here (CI=1 or BFC_REQUIRE_TORCH=1): %v", torchErr)
	}
	t.Skipf("skipping parity with PyTorch: %v; install python3-torch and python3-numpy (apt) to run it", torchErr)
}

// denseConfig describes densemodel (dense.bf) to the twin.
func denseConfig() string {
	return fmt.Sprintf(`{"kind":"dense","vocab":%d,"d":%d,"heads":%d,"layers":%d,"hidden":%d,"max_seq":%d,"eps":1e-6,"act":"gelu"}`,
		densemodel.Vocab, densemodel.D, densemodel.Heads, densemodel.Layers, 4*densemodel.D, densemodel.MaxSeq)
}

// model is what the parity tests use of a generated model.
type model interface {
	Params() []tensor.Param[float32]
	Forward(tokens, targets []int32, batch, seq int) (float32, error)
	Backward()
	Infer(tokens []int32, batch, seq int) ([]float32, error)
}

// runTwin runs bfc_torch.py on the model config and args and returns the
// tensors it wrote.
func runTwin(t *testing.T, dir, config string, args ...string) *safetensors.File {
	t.Helper()
	out := filepath.Join(dir, "torch_out.safetensors")
	script := filepath.Join("torch", "bfc_torch.py")
	// Reading the script makes it an input of the test: go test's cache
	// notices an edit to it.
	if _, err := os.ReadFile(script); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, append([]string{script,
		"--config", config, "--out", out}, args...)...)
	cmd.Env = append(os.Environ(), "OPENBLAS_CORETYPE=", "OMP_NUM_THREADS=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("bfc_torch.py: %v\n%s", err, b)
	}
	f, err := safetensors.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// batch draws tokens and targets for a full batch, a few targets -1 (ignored
// by the loss), and saves them for the twin.
func batch(t *testing.T, dir string, seed uint64, b, s, vocab int) (tokens, targets []int32, path string) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	n := b * s
	tokens = make([]int32, n)
	targets = make([]int32, n)
	for i := range tokens {
		tokens[i] = int32(r.IntN(vocab))
		targets[i] = int32(r.IntN(vocab))
	}
	targets[3], targets[n-1] = -1, -1
	shape := []int{b, s}
	path = filepath.Join(dir, "batch.safetensors")
	err := safetensors.Save(path, []safetensors.Tensor{
		safetensors.FromInt32("tokens", shape, tokens),
		safetensors.FromInt32("targets", shape, targets),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tokens, targets, path
}

// goPass runs Forward, Backward (gradients zeroed first) and Infer.
func goPass(t *testing.T, m model, tokens, targets []int32, b, s int) (loss float32, logits []float32) {
	t.Helper()
	for _, p := range m.Params() {
		clear(p.Grad)
	}
	loss, err := m.Forward(tokens, targets, b, s)
	if err != nil {
		t.Fatal(err)
	}
	m.Backward()
	logits, err = m.Infer(tokens, b, s)
	if err != nil {
		t.Fatal(err)
	}
	return loss, logits
}

// relErr returns the largest |got-want| / max(|want|, floor) (see relTol),
// its index, and the normwise error max|got-want| / max|want|.
func relErr(got []float32, want []float64) (worst float64, at int, normwise float64) {
	var scale, diff float64
	for i := range want {
		scale = math.Max(scale, math.Abs(want[i]))
	}
	floor := math.Max(absFloor, floorFrac*scale)
	for i := range want {
		d := math.Abs(float64(got[i]) - want[i])
		diff = math.Max(diff, d)
		if e := d / math.Max(math.Abs(want[i]), floor); e > worst {
			worst, at = e, i
		}
	}
	if scale > 0 {
		normwise = diff / scale
	} else if diff > 0 {
		normwise = math.Inf(1)
	}
	return worst, at, normwise
}

// compare checks got against the twin's tensor name and returns the errors
// of relErr.
func compare(t *testing.T, f *safetensors.File, name string, got []float32) (e, normwise float64) {
	t.Helper()
	tt, ok := f.Get(name)
	if !ok {
		t.Fatalf("the twin wrote no tensor %q", name)
	}
	var want []float64
	var err error
	if tt.DType == "F64" {
		want, err = tt.Float64()
	} else {
		var w32 []float32
		w32, err = tt.Float32()
		for _, v := range w32 {
			want = append(want, float64(v))
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != len(got) {
		t.Fatalf("%s: %d elements from the twin, %d from Go", name, len(want), len(got))
	}
	e, at, normwise := relErr(got, want)
	if e > relTol {
		t.Errorf("%s: relative error %.3g > %g at element %d: go %g, torch %g", name, e, relTol, at, got[at], want[at])
	}
	return e, normwise
}

// compareAll compares loss, logits and every parameter gradient and logs the
// largest relative error of each kind.
func compareAll(t *testing.T, f *safetensors.File, m model, loss float32, logits []float32) {
	t.Helper()
	le, _ := compare(t, f, "loss", []float32{loss})
	lg, lgn := compare(t, f, "logits", logits)
	var ge, gen float64
	worst := ""
	for _, p := range m.Params() {
		e, n := compare(t, f, "grad."+p.Name, p.Grad)
		if e > ge {
			ge, worst = e, p.Name
		}
		gen = math.Max(gen, n)
	}
	t.Logf("largest relative errors (floored): loss %.2e, logits %.2e, gradients %.2e (%s); normwise: logits %.2e, gradients %.2e",
		le, lg, ge, worst, lgn, gen)
}

// TestDenseGoToTorch saves generated Go's weights, loads them in the twin and
// compares loss, logits and every gradient on the same batch.
func TestDenseGoToTorch(t *testing.T) {
	requireTorch(t)
	dir := t.TempDir()
	m := densemodel.New(densemodel.Options{Seed: 11})
	// Move the norm scales off their initial ones so that a mix-up of scale
	// and identity shows.
	r := rand.New(rand.NewPCG(5, 5))
	for _, p := range m.Params() {
		if strings.HasSuffix(p.Name, "norm.scale") {
			for i := range p.Data {
				p.Data[i] = 1 + 0.1*float32(r.NormFloat64())
			}
		}
	}
	ckpt := filepath.Join(dir, "go.safetensors")
	if err := m.Save(ckpt); err != nil {
		t.Fatal(err)
	}
	tokens, targets, bpath := batch(t, dir, 1, densemodel.MaxBatch, densemodel.MaxSeq, densemodel.Vocab)
	f := runTwin(t, dir, denseConfig(), "--params", ckpt, "--batch", bpath)
	loss, logits := goPass(t, m, tokens, targets, densemodel.MaxBatch, densemodel.MaxSeq)
	compareAll(t, f, m, loss, logits)
}

// TestDenseTorchToGo loads a checkpoint the twin initialised and wrote into
// generated Go and compares loss, logits and every gradient.
func TestDenseTorchToGo(t *testing.T) {
	requireTorch(t)
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "torch.safetensors")
	tokens, targets, bpath := batch(t, dir, 2, densemodel.MaxBatch, densemodel.MaxSeq, densemodel.Vocab)
	f := runTwin(t, dir, denseConfig(), "--init", "7", "--write-params", ckpt, "--batch", bpath)
	m, err := densemodel.Load(ckpt)
	if err != nil {
		t.Fatalf("generated Go cannot load the twin's checkpoint: %v", err)
	}
	loss, logits := goPass(t, m, tokens, targets, densemodel.MaxBatch, densemodel.MaxSeq)
	compareAll(t, f, m, loss, logits)
}
