package plot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// synthLog writes records shaped like runtime/train's: the training loss
// falls from 5 to about 1 bit per byte, held-out loss 0.2 above it.
func synthLog(t *testing.T, heldOut bool, extra ...string) string {
	t.Helper()
	var b strings.Builder
	for step := 50; step <= 1000; step += 50 {
		bits := 1 + 4*math.Exp(-float64(step)/200)
		rec := map[string]any{
			"step": step, "tokens": step * 4096, "elapsed_s": float64(step) / 10,
			"train_loss": bits * math.Ln2, "train_bpb": bits, "final": step == 1000,
			"routing": []map[string]any{{"layer": "moe0", "load": []float64{0.5, 0.5}}},
		}
		if heldOut {
			rec["heldout_bpb"] = bits + 0.2
		}
		j, err := json.Marshal(rec)
		require.NoError(t, err)
		fmt.Fprintf(&b, "%s\n", j)
		if step == 500 {
			b.WriteString("\n") // a blank line (a record that failed to encode)
		}
	}
	for _, e := range extra {
		b.WriteString(e + "\n")
	}
	p := filepath.Join(t.TempDir(), "log.jsonl")
	require.NoError(t, os.WriteFile(p, []byte(b.String()), 0o644))
	return p
}

// colourRows returns the y of each pixel within a small distance of c,
// grouped by which horizontal quarter of the image it lies in.
func colourRows(img image.Image, c color.RGBA) [4][]int {
	var out [4][]int
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			pr, pg, pb, _ := img.At(x, y).RGBA()
			d := absDiff(pr>>8, uint32(c.R)) + absDiff(pg>>8, uint32(c.G)) + absDiff(pb>>8, uint32(c.B))
			if d <= 24 {
				q := 4 * (x - r.Min.X) / r.Dx()
				out[q] = append(out[q], y)
			}
		}
	}
	return out
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

func mean(ys []int) float64 {
	s := 0
	for _, y := range ys {
		s += y
	}
	return float64(s) / float64(len(ys))
}

func decode(t *testing.T, p string) image.Image {
	t.Helper()
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	return img
}

func TestLossPNG(t *testing.T) {
	out := filepath.Join(t.TempDir(), "loss.png")
	require.NoError(t, LossPNG(synthLog(t, true, `{"note":"a line without a step"}`), out))
	img := decode(t, out)
	require.Equal(t, image.Rect(0, 0, Width, Height), img.Bounds())
	train, held := colourRows(img, TrainColor), colourRows(img, HeldOutColor)
	for _, q := range []int{1, 3} { // the quarters left of and at the end of the curves
		require.Greater(t, len(train[q]), 50, "training line in quarter %d", q)
		require.Greater(t, len(held[q]), 50, "held-out line in quarter %d", q)
	}
	// The losses fall: the curves sit higher (smaller y) on the left.
	require.Less(t, mean(train[1]), mean(train[3]))
	require.Less(t, mean(held[1]), mean(held[3]))
	// Held-out loss is above training loss where they flatten out.
	require.Less(t, mean(held[3]), mean(train[3]))
}

func TestLossPNGWithoutHeldOut(t *testing.T) {
	out := filepath.Join(t.TempDir(), "loss.png")
	require.NoError(t, LossPNG(synthLog(t, false), out))
	img := decode(t, out)
	require.Equal(t, image.Rect(0, 0, Width, Height), img.Bounds())
	train, held := colourRows(img, TrainColor), colourRows(img, HeldOutColor)
	require.Greater(t, len(train[1])+len(train[3]), 100)
	for q := range held {
		require.Empty(t, held[q], "no held-out line")
	}
}

func TestReadLog(t *testing.T) {
	log := strings.Join([]string{
		`{"step": 20, "train_loss": 0.6931471805599453, "heldout_bpb": 1.5}`,
		`{"step": 10, "train_bpb": 2, "heldout_loss": 1.3862943611198906}`,
		`{"step": 30, "train_bpb": 0.5}`,
	}, "\n")
	c, err := ReadLog(strings.NewReader(log), "x")
	require.NoError(t, err)
	require.InDeltaSlice(t, []float64{10, 20, 30}, steps(c.Train), 0)
	require.InDeltaSlice(t, []float64{2, 1, 0.5}, bpbs(c.Train), 1e-12)
	require.InDeltaSlice(t, []float64{10, 20}, steps(c.HeldOut), 0)
	require.InDeltaSlice(t, []float64{2, 1.5}, bpbs(c.HeldOut), 1e-12)
}

func steps(ps []Point) (out []float64) {
	for _, p := range ps {
		out = append(out, p.Step)
	}
	return out
}

func bpbs(ps []Point) (out []float64) {
	for _, p := range ps {
		out = append(out, p.BPB)
	}
	return out
}

func TestLossPNGBadInput(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "loss.png")
	p := synthLog(t, true, `{"step": 1001, "train_bpb": 1}`, `{"step": 1002, "train_bpb": `)
	err := LossPNG(p, out)
	require.ErrorContains(t, err, p+":23:") // 20 records, a blank line, then the bad one second
	_, statErr := os.Stat(out)
	require.True(t, os.IsNotExist(statErr), "no image for a bad log")

	p = filepath.Join(dir, "typed.jsonl")
	require.NoError(t, os.WriteFile(p, []byte("{\"step\": 1, \"train_bpb\": 2}\n{\"step\": \"two\"}\n"), 0o644))
	require.ErrorContains(t, LossPNG(p, out), p+":2:")

	p = filepath.Join(dir, "none.jsonl")
	require.NoError(t, os.WriteFile(p, []byte("{\"step\": 1, \"heldout_bpb\": 2}\n"), 0o644))
	require.ErrorContains(t, LossPNG(p, out), p+" has no training loss records")

	require.ErrorContains(t, LossPNG(filepath.Join(dir, "missing.jsonl"), out), "missing.jsonl")

	var buf bytes.Buffer
	require.Error(t, WritePNG(Curves{}, &buf))
}
