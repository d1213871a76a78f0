package plot

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// The statuses of a search trial.
const (
	StatusOK       = "ok"       // trained to the end and scored
	StatusHurdle   = "hurdle"   // stopped early at a hurdle; BPB is the score there
	StatusRejected = "rejected" // too slow, never trained; no BPB
	StatusFailed   = "failed"   // training failed; no BPB
)

// The colours of the Pareto plot.
var (
	TrialColor    = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff} // blue: ok trials
	HurdleColor   = color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff} // orange: stopped at a hurdle
	FrontColor    = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff} // red: the Pareto front
	BaselineColor = color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff} // green: the baseline
	RejectedColor = color.RGBA{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff} // brown: rejected as too slow
	FailedColor   = color.RGBA{R: 0xe3, G: 0x77, B: 0xc2, A: 0xff} // pink: failed
	LimitColor    = color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff} // purple: the step-time limit
)

// Trial is one search trial for the Pareto plot.
type Trial struct {
	Label    string  // e.g. "#12"
	StepTime float64 // seconds per training step (measured)
	BPB      float64 // held-out bits per byte; NaN when the trial has none (rejected, failed)
	Status   string  // StatusOK, StatusHurdle, StatusRejected or StatusFailed
	Baseline bool
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// scored says whether t has a point on the plot: a finite step time and
// held-out bpb, and status ok or hurdle.
func (t Trial) scored() bool {
	return (t.Status == StatusOK || t.Status == StatusHurdle) && finite(t.StepTime) && finite(t.BPB)
}

// ParetoFront returns the indices of the trials with status "ok" (the
// baseline among them, if it is ok) that no other such trial dominates
// (another has StepTime <= and BPB <= with one strictly less), sorted by
// StepTime ascending, equal step times by index. Trials with a non-finite
// StepTime or BPB are ignored. Equal trials do not dominate each other:
// duplicates on the front are all returned.
func ParetoFront(trials []Trial) []int {
	var idx []int
	for i, t := range trials {
		if t.Status == StatusOK && finite(t.StepTime) && finite(t.BPB) {
			idx = append(idx, i)
		}
	}
	slices.SortFunc(idx, func(a, b int) int {
		if c := cmpFloat(trials[a].StepTime, trials[b].StepTime); c != 0 {
			return c
		}
		if c := cmpFloat(trials[a].BPB, trials[b].BPB); c != 0 {
			return c
		}
		return a - b
	})
	// Walk the groups of equal step time: a group's lowest bpb is on the
	// front if it is below every bpb at a smaller step time.
	front := []int{}
	best := math.Inf(1)
	for lo := 0; lo < len(idx); {
		st, m := trials[idx[lo]].StepTime, trials[idx[lo]].BPB
		hi := lo
		for hi < len(idx) && trials[idx[hi]].StepTime == st {
			hi++
		}
		if m < best {
			for _, i := range idx[lo:hi] {
				if trials[i].BPB == m {
					front = append(front, i)
				}
			}
			best = m
		}
		lo = hi
	}
	return front
}

// ParetoPNG draws every trial's held-out bpb against its step time (in
// milliseconds) as a Width×Height PNG:
//
//   - ok trials as filled circles in TrialColor;
//   - trials stopped at a hurdle as hollow circles in HurdleColor;
//   - the Pareto front (ParetoFront) as a FrontColor staircase through its
//     points, each labelled with its Label;
//   - the baseline as a larger BaselineColor diamond, in the legend and
//     labelled "baseline";
//   - rejected trials as RejectedColor crosses, and failed ones as
//     FailedColor crosses, along the top edge of the plot at their step
//     time (they have no bpb);
//   - a dashed vertical LimitColor line at limit seconds, the step-time
//     limit, unless limit is 0 (or not a positive finite number).
//
// Trials without a finite step time, and ok or hurdle trials without a
// finite bpb, are left out. It is an error, and nothing is written, when no
// trial has a point to plot.
func ParetoPNG(trials []Trial, limit float64, title string, w io.Writer) error {
	const ms = 1000 // seconds to milliseconds
	var ok, hurdle, rejected, failed plotter.XYs
	var base []plotter.XY
	xmin, xmax := math.Inf(1), math.Inf(-1)
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, t := range trials {
		if !finite(t.StepTime) {
			continue
		}
		x := t.StepTime * ms
		switch {
		case t.scored():
			xy := plotter.XY{X: x, Y: t.BPB}
			if t.Status == StatusOK {
				ok = append(ok, xy)
			} else {
				hurdle = append(hurdle, xy)
			}
			if t.Baseline {
				base = append(base, xy)
			}
			ymin, ymax = math.Min(ymin, t.BPB), math.Max(ymax, t.BPB)
		case t.Status == StatusRejected || t.Status == StatusFailed:
			// along the top edge, placed below once the bpb range is known
		default:
			continue
		}
		xmin, xmax = math.Min(xmin, x), math.Max(xmax, x)
	}
	if len(ok)+len(hurdle) == 0 {
		return errors.New("no trial with a step time and held-out bpb to plot")
	}
	drawLimit := limit > 0 && finite(limit)
	if drawLimit {
		xmin, xmax = math.Min(xmin, limit*ms), math.Max(xmax, limit*ms)
	}
	// The y of the top edge, where the trials without a bpb go: a band
	// above the highest bpb.
	yspan := ymax - ymin
	if yspan == 0 {
		yspan = math.Max(math.Abs(ymax)*0.1, 0.1)
	}
	topY := ymax + 0.1*yspan
	for _, t := range trials {
		if finite(t.StepTime) && !t.scored() {
			xy := plotter.XY{X: t.StepTime * ms, Y: topY}
			switch t.Status {
			case StatusRejected:
				rejected = append(rejected, xy)
			case StatusFailed:
				failed = append(failed, xy)
			default:
				continue
			}
			if t.Baseline {
				base = append(base, xy)
			}
		}
	}

	p := gplot.New()
	p.Title.Text = title
	p.X.Label.Text = "step time (ms)"
	p.Y.Label.Text = "held-out bits per byte"
	p.Add(plotter.NewGrid())
	small := text.Style{Font: font.From(plotter.DefaultFont, vg.Points(8)), Handler: gplot.DefaultTextHandler}

	if drawLimit {
		l := &vline{x: limit * ms, LineStyle: draw.LineStyle{
			Color: LimitColor, Width: vg.Points(1.5), Dashes: []vg.Length{vg.Points(6), vg.Points(4)},
		}}
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("step-time limit (%.4g ms)", limit*ms), l)
	}
	scatter := func(name string, xys plotter.XYs, sty draw.GlyphStyle) error {
		if len(xys) == 0 {
			return nil
		}
		s, err := plotter.NewScatter(xys)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		s.GlyphStyle = sty
		p.Add(s)
		p.Legend.Add(name, s)
		return nil
	}
	r := vg.Points(3.5)
	if err := scatter("stopped at hurdle", hurdle, draw.GlyphStyle{Color: HurdleColor, Radius: r, Shape: ringGlyph{vg.Points(1.2)}}); err != nil {
		return err
	}
	if err := scatter("trial", ok, draw.GlyphStyle{Color: TrialColor, Radius: r, Shape: draw.CircleGlyph{}}); err != nil {
		return err
	}
	if front := ParetoFront(trials); len(front) > 0 {
		xys := make(plotter.XYs, len(front))
		names := make([]string, len(front))
		for i, k := range front {
			xys[i] = plotter.XY{X: trials[k].StepTime * ms, Y: trials[k].BPB}
			names[i] = trials[k].Label
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return fmt.Errorf("Pareto front: %w", err)
		}
		line.StepStyle = plotter.PostStep // right, then down to the next point
		line.Color, line.Width = FrontColor, vg.Points(2)
		points.Color, points.Shape, points.Radius = FrontColor, draw.CircleGlyph{}, vg.Points(4)
		labels, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: names})
		if err != nil {
			return fmt.Errorf("Pareto front labels: %w", err)
		}
		for i := range labels.TextStyle {
			labels.TextStyle[i] = small
		}
		labels.Offset = vg.Point{X: vg.Points(5), Y: vg.Points(3)}
		p.Add(line, points, labels)
		p.Legend.Add("Pareto front", line, points)
	}
	if err := scatter("rejected (too slow)", rejected, draw.GlyphStyle{Color: RejectedColor, Radius: vg.Points(4), Shape: crossGlyph{vg.Points(1.5)}}); err != nil {
		return err
	}
	if err := scatter("failed", failed, draw.GlyphStyle{Color: FailedColor, Radius: vg.Points(4), Shape: crossGlyph{vg.Points(1.5)}}); err != nil {
		return err
	}
	if len(base) > 0 {
		xys := plotter.XYs(base)
		if err := scatter("baseline", xys, draw.GlyphStyle{Color: BaselineColor, Radius: vg.Points(7), Shape: diamondGlyph{}}); err != nil {
			return err
		}
		names := make([]string, len(base))
		for i := range names {
			names[i] = "baseline"
		}
		labels, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: names})
		if err != nil {
			return fmt.Errorf("baseline label: %w", err)
		}
		labels.Offset = vg.Point{X: vg.Points(9), Y: vg.Points(-12)}
		p.Add(labels)
	}

	// Below the front's staircase, at the lower left, is where no trial is;
	// the y axis reaches lower still, so that the legend covers no point.
	p.Legend.Top, p.Legend.Left = false, true
	p.Legend.Padding = vg.Points(3)
	xspan := xmax - xmin
	if xspan == 0 {
		xspan = math.Max(math.Abs(xmax)*0.1, 1)
	}
	p.X.Min, p.X.Max = xmin-0.05*xspan, xmax+0.05*xspan
	p.Y.Min, p.Y.Max = ymin-0.35*yspan, ymax+0.05*yspan
	if len(rejected)+len(failed) > 0 {
		p.Y.Max = topY + 0.03*yspan
	}

	px := func(n int) vg.Length { return vg.Length(n) * vg.Inch / dpi }
	img := vgimg.NewWith(vgimg.UseWH(px(Width), px(Height)), vgimg.UseDPI(dpi))
	m := px(12) // margin
	p.Draw(draw.Crop(draw.New(img), m, -m, m, -m))
	_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}

// ParetoFile draws the plot of ParetoPNG to path, through a temporary file
// in the same directory renamed over it: path holds either the old file or
// the whole new one, and nothing is left behind on an error.
func ParetoFile(trials []Trial, limit float64, title, path string) error {
	var buf bytes.Buffer
	if err := ParetoPNG(trials, limit, title, &buf); err != nil {
		return fmt.Errorf("Pareto plot: %w", err)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing Pareto plot: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(buf.Bytes())
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing Pareto plot: %w", err)
	}
	return nil
}

// vline is a vertical line across the whole plot at x.
type vline struct {
	x float64
	draw.LineStyle
}

func (l *vline) Plot(c draw.Canvas, p *gplot.Plot) {
	trX, _ := p.Transforms(&c)
	x := trX(l.x)
	c.StrokeLine2(l.LineStyle, x, c.Min.Y, x, c.Max.Y)
}

// DataRange keeps x on the x axis and leaves the y axis to the others.
func (l *vline) DataRange() (xmin, xmax, ymin, ymax float64) {
	return l.x, l.x, math.Inf(1), math.Inf(-1)
}

func (l *vline) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	c.StrokeLine2(l.LineStyle, c.Min.X, y, c.Max.X, y)
}

// ringGlyph is draw.RingGlyph with a line width of its own.
type ringGlyph struct{ width vg.Length }

func (g ringGlyph) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	c.SetLineStyle(draw.LineStyle{Color: sty.Color, Width: g.width})
	var p vg.Path
	p.Move(vg.Point{X: pt.X + sty.Radius, Y: pt.Y})
	p.Arc(pt, sty.Radius, 0, 2*math.Pi)
	p.Close()
	c.Stroke(p)
}

// crossGlyph is draw.CrossGlyph with a line width of its own.
type crossGlyph struct{ width vg.Length }

func (g crossGlyph) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	ls := draw.LineStyle{Color: sty.Color, Width: g.width}
	r := sty.Radius * 0.7071
	c.StrokeLine2(ls, pt.X-r, pt.Y-r, pt.X+r, pt.Y+r)
	c.StrokeLine2(ls, pt.X-r, pt.Y+r, pt.X+r, pt.Y-r)
}

// diamondGlyph is a filled diamond with a dark outline.
type diamondGlyph struct{}

func (diamondGlyph) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	r := sty.Radius
	var p vg.Path
	p.Move(vg.Point{X: pt.X, Y: pt.Y + r})
	p.Line(vg.Point{X: pt.X + r, Y: pt.Y})
	p.Line(vg.Point{X: pt.X, Y: pt.Y - r})
	p.Line(vg.Point{X: pt.X - r, Y: pt.Y})
	p.Close()
	c.Fill(p)
	c.SetLineStyle(draw.LineStyle{Color: color.Black, Width: vg.Points(1)})
	c.Stroke(p)
}
