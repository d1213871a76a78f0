package plot

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"slices"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Image size in pixels and the curves' colours.
const (
	Width  = 960
	Height = 600
	dpi    = 96
)

var (
	TrainColor   = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff} // blue
	HeldOutColor = color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff} // orange
)

// Point is one loss value, in bits per byte, at an optimizer step.
type Point struct {
	Step float64
	BPB  float64
}

// Curves are the training and held-out losses of a log, by step.
type Curves struct {
	Train, HeldOut []Point
}

// record is the part of a log line that the plot reads; train_loss and
// heldout_loss are in nats, the _bpb fields in bits per byte.
type record struct {
	Step        *float64 `json:"step"`
	TrainBPB    *float64 `json:"train_bpb"`
	TrainLoss   *float64 `json:"train_loss"`
	HeldOutBPB  *float64 `json:"heldout_bpb"`
	HeldOutLoss *float64 `json:"heldout_loss"`
}

// ReadLog parses a training log: one JSON object a line. Lines without a
// step, and blank lines, are skipped; a line that is not a JSON object is
// an error naming name and the line number. The points come out sorted by
// step; non-finite values are left out.
func ReadLog(r io.Reader, name string) (Curves, error) {
	var c Curves
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 64<<20)
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var rec record
		if err := json.Unmarshal(b, &rec); err != nil {
			return Curves{}, fmt.Errorf("%s:%d: not a JSON object of a training log: %v", name, line, err)
		}
		if rec.Step == nil {
			continue
		}
		step := *rec.Step
		if v, ok := bpb(rec.TrainBPB, rec.TrainLoss); ok {
			c.Train = append(c.Train, Point{step, v})
		}
		if v, ok := bpb(rec.HeldOutBPB, rec.HeldOutLoss); ok {
			c.HeldOut = append(c.HeldOut, Point{step, v})
		}
	}
	if err := sc.Err(); err != nil {
		return Curves{}, fmt.Errorf("reading %s: %w", name, err)
	}
	byStep := func(a, b Point) int { return cmpFloat(a.Step, b.Step) }
	slices.SortStableFunc(c.Train, byStep)
	slices.SortStableFunc(c.HeldOut, byStep)
	return c, nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// bpb returns the bits-per-byte value, else the nats one converted.
func bpb(bits, nats *float64) (float64, bool) {
	v := math.NaN()
	if bits != nil {
		v = *bits
	} else if nats != nil {
		v = *nats / math.Ln2
	}
	return v, !math.IsNaN(v) && !math.IsInf(v, 0)
}

// WritePNG draws the curves as a Width×Height PNG: training loss in
// TrainColor, held-out loss (when there is any) in HeldOutColor.
func WritePNG(c Curves, w io.Writer) error {
	if len(c.Train) == 0 && len(c.HeldOut) == 0 {
		return errors.New("no loss values to plot")
	}
	p := gplot.New()
	p.Title.Text = "training and held-out loss"
	p.X.Label.Text = "step"
	p.Y.Label.Text = "bits per byte"
	p.Add(plotter.NewGrid())
	for _, s := range []struct {
		name string
		pts  []Point
		col  color.Color
	}{{"training", c.Train, TrainColor}, {"held-out", c.HeldOut, HeldOutColor}} {
		if len(s.pts) == 0 {
			continue
		}
		xys := make(plotter.XYs, len(s.pts))
		for i, pt := range s.pts {
			xys[i] = plotter.XY{X: pt.Step, Y: pt.BPB}
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return fmt.Errorf("%s loss: %w", s.name, err)
		}
		line.Color, line.Width = s.col, vg.Points(2)
		points.Color, points.Shape, points.Radius = s.col, draw.CircleGlyph{}, vg.Points(3)
		p.Add(line, points)
		p.Legend.Add(s.name, line, points)
	}
	p.Legend.Top = true
	px := func(n int) vg.Length { return vg.Length(n) * vg.Inch / dpi }
	img := vgimg.NewWith(vgimg.UseWH(px(Width), px(Height)), vgimg.UseDPI(dpi))
	m := px(12) // margin
	p.Draw(draw.Crop(draw.New(img), m, -m, m, -m))
	_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}

// LossPNG reads the training log at logPath and writes the plot of its
// training and held-out loss to pngPath.
func LossPNG(logPath, pngPath string) error {
	f, err := os.Open(logPath)
	if err != nil {
		return fmt.Errorf("training log: %w", err)
	}
	defer f.Close()
	c, err := ReadLog(f, logPath)
	if err != nil {
		return err
	}
	if len(c.Train) == 0 {
		return fmt.Errorf("%s has no training loss records (lines with step and train_loss or train_bpb)", logPath)
	}
	var buf bytes.Buffer
	if err := WritePNG(c, &buf); err != nil {
		return fmt.Errorf("plotting %s: %w", logPath, err)
	}
	if err := os.WriteFile(pngPath, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing loss plot: %w", err)
	}
	return nil
}
