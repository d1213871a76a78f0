package compare

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

const (
	width, height = 960, 600
	dpi           = 96
)

// palette gives each model a colour (Tableau 10).
var palette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, {0xff, 0x7f, 0x0e, 0xff}, {0x2c, 0xa0, 0x2c, 0xff}, {0xd6, 0x27, 0x28, 0xff},
	{0x94, 0x67, 0xbd, 0xff}, {0x8c, 0x56, 0x4b, 0xff}, {0xe3, 0x77, 0xc2, 0xff}, {0x7f, 0x7f, 0x7f, 0xff},
	{0xbc, 0xbd, 0x22, 0xff}, {0x17, 0xbe, 0xcf, 0xff},
}

// CurvesPNG draws every finished run's held-out bits per byte against its
// training time, one colour per model, as a PNG to w.
func CurvesPNG(runs []Run, w io.Writer) error {
	p := gplot.New()
	p.Title.Text = "held-out bits per byte against training time"
	p.X.Label.Text = "training time (s)"
	p.Y.Label.Text = "held-out bits per byte"
	p.Add(plotter.NewGrid())
	colour := map[string]color.Color{}
	n := 0
	for _, r := range runs {
		if r.Status != "ok" || len(r.Curve) == 0 {
			continue
		}
		c, ok := colour[r.Model]
		if !ok {
			c = palette[len(colour)%len(palette)]
			colour[r.Model] = c
		}
		xys := make(plotter.XYs, 0, len(r.Curve))
		for _, pt := range r.Curve {
			if !math.IsNaN(pt.BPB) && !math.IsInf(pt.BPB, 0) {
				xys = append(xys, plotter.XY{X: pt.Seconds, Y: pt.BPB})
			}
		}
		if len(xys) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return fmt.Errorf("%s seed %d: %w", r.Model, r.Seed, err)
		}
		line.Color, line.Width = c, vg.Points(1.5)
		points.Color, points.Shape, points.Radius = c, draw.CircleGlyph{}, vg.Points(2)
		p.Add(line, points)
		if !ok {
			p.Legend.Add(r.Model, line, points)
		}
		n++
	}
	if n == 0 {
		return errors.New("no finished run has held-out evaluations to plot")
	}
	p.Legend.Top = true
	return writePNG(p, w)
}

// StepPNG draws each model's mean held-out bits per byte against its mean
// step time, with bars from the lowest to the highest seed, as a PNG to w.
func StepPNG(rows []Row, w io.Writer) error {
	p := gplot.New()
	p.Title.Text = "held-out bits per byte against step time (bars: lowest to highest seed)"
	p.X.Label.Text = "step time (ms)"
	p.Y.Label.Text = "held-out bits per byte"
	p.Add(plotter.NewGrid())
	n := 0
	for i, r := range rows {
		if r.Runs == 0 || math.IsNaN(r.BPB) || math.IsNaN(r.StepTime) {
			continue
		}
		c := palette[i%len(palette)]
		x := 1000 * r.StepTime
		pts, err := plotter.NewScatter(plotter.XYs{{X: x, Y: r.BPB}})
		if err != nil {
			return err
		}
		pts.Color, pts.Shape, pts.Radius = c, draw.CircleGlyph{}, vg.Points(5)
		bar, err := plotter.NewLine(plotter.XYs{{X: x, Y: r.Min}, {X: x, Y: r.Max}})
		if err != nil {
			return err
		}
		bar.Color, bar.Width = c, vg.Points(2)
		p.Add(bar, pts)
		p.Legend.Add(r.Model, pts)
		n++
	}
	if n == 0 {
		return errors.New("no model has a finished run to plot")
	}
	p.Legend.Top = true
	return writePNG(p, w)
}

// writePNG draws the plot as a width×height PNG to w.
func writePNG(p *gplot.Plot, w io.Writer) error {
	px := func(n int) vg.Length { return vg.Length(n) * vg.Inch / dpi }
	img := vgimg.NewWith(vgimg.UseWH(px(width), px(height)), vgimg.UseDPI(dpi))
	m := px(12)
	p.Draw(draw.Crop(draw.New(img), m, -m, m, -m))
	_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}
