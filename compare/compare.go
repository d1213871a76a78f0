package compare

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strings"
)

// Point is a held-out evaluation: bits per byte after Seconds of training.
type Point struct {
	Seconds float64 `json:"elapsed_s"`
	BPB     float64 `json:"heldout_bpb"`
}

// Run is one model trained with one seed.
type Run struct {
	Model     string  `json:"model"` // the row it belongs to
	File      string  `json:"file"`
	Seed      uint64  `json:"seed"`
	Status    string  `json:"status"` // ok, failed
	Error     string  `json:"error,omitempty"`
	Params    int64   `json:"params"`
	Activated int64   `json:"activated"`
	Steps     int     `json:"steps"`
	Tokens    int64   `json:"tokens"`
	Seconds   float64 `json:"elapsed_s"` // training time
	BPB       float64 `json:"heldout_bpb"`
	Curve     []Point `json:"curve,omitempty"`
	// NoExpert is the share of tokens that no expert took, averaged over
	// the moe layers at the end of training; Dropped the share of top_k
	// choices that found their expert full. NaN: no such layer.
	NoExpert float64 `json:"no_expert_share"`
	Dropped  float64 `json:"dropped_share"`
}

// StepTime is the run's mean training step in seconds.
func (r *Run) StepTime() float64 {
	if r.Steps == 0 {
		return math.NaN()
	}
	return r.Seconds / float64(r.Steps)
}

// logLine is what ReadLog takes from a training log line.
type logLine struct {
	Step    *int     `json:"step"`
	Elapsed float64  `json:"elapsed_s"`
	HeldOut *float64 `json:"heldout_bpb"`
	Tokens  int64    `json:"tokens"`
	Final   bool     `json:"final"`
	Routing []struct {
		Share    []float64 `json:"experts_per_token_share"`
		DropRate *float64  `json:"drop_rate"`
	} `json:"routing"`
}

// ReadLog fills r's curve, steps, tokens, training time, held-out bits per
// byte and routing shares from a bfc training log (name names it in
// errors). The final evaluation's line must be there.
func (r *Run) ReadLog(rd io.Reader, name string) error {
	sc := bufio.NewScanner(rd)
	sc.Buffer(nil, 64<<20)
	r.Curve, r.BPB, r.NoExpert, r.Dropped = nil, math.NaN(), math.NaN(), math.NaN()
	final := false
	for n := 1; sc.Scan(); n++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var l logLine
		if err := json.Unmarshal(b, &l); err != nil {
			return fmt.Errorf("%s:%d: not a line of a bfc training log: %v", name, n, err)
		}
		if l.Step == nil || l.HeldOut == nil {
			continue
		}
		r.Curve = append(r.Curve, Point{l.Elapsed, *l.HeldOut})
		if !l.Final {
			continue
		}
		final = true
		r.Steps, r.Tokens, r.Seconds, r.BPB = *l.Step, l.Tokens, l.Elapsed, *l.HeldOut
		var none, drop []float64
		for _, lr := range l.Routing {
			if len(lr.Share) > 0 {
				none = append(none, lr.Share[0])
			}
			if lr.DropRate != nil {
				drop = append(drop, *lr.DropRate)
			}
		}
		if len(none) > 0 {
			r.NoExpert = mean(none)
		}
		if len(drop) > 0 {
			r.Dropped = mean(drop)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading %s: %v", name, err)
	}
	if !final {
		return fmt.Errorf("%s: no final held-out evaluation: the run did not finish", name)
	}
	return nil
}

// Row is one model over its seeds. Means are over the finished runs.
type Row struct {
	Model     string  `json:"model"`
	File      string  `json:"file"`
	Runs      int     `json:"runs"`   // finished
	Failed    int     `json:"failed"` // failed runs
	Params    int64   `json:"params"`
	Activated int64   `json:"activated"`
	StepTime  float64 `json:"step_s"`
	Steps     float64 `json:"steps"`
	Tokens    float64 `json:"tokens"`
	BPB       float64 `json:"heldout_bpb"`    // mean
	SD        float64 `json:"heldout_bpb_sd"` // sample standard deviation (NaN: one run)
	Min       float64 `json:"heldout_bpb_min"`
	Max       float64 `json:"heldout_bpb_max"`
	NoExpert  float64 `json:"no_expert_share"`
	Dropped   float64 `json:"dropped_share"`
}

// Summarise folds runs into one row per model, in the order models first
// appear.
func Summarise(runs []Run) []Row {
	var rows []Row
	idx := map[string]int{}
	groups := map[string][]Run{}
	for _, r := range runs {
		if _, ok := idx[r.Model]; !ok {
			idx[r.Model] = len(rows)
			rows = append(rows, Row{Model: r.Model, File: r.File, Params: r.Params, Activated: r.Activated})
		}
		groups[r.Model] = append(groups[r.Model], r)
	}
	for i := range rows {
		row := &rows[i]
		var bpb, st, steps, toks, none, drop []float64
		for _, r := range groups[row.Model] {
			if r.Status != "ok" {
				row.Failed++
				continue
			}
			bpb = append(bpb, r.BPB)
			st = append(st, r.StepTime())
			steps = append(steps, float64(r.Steps))
			toks = append(toks, float64(r.Tokens))
			if !math.IsNaN(r.NoExpert) {
				none = append(none, r.NoExpert)
			}
			if !math.IsNaN(r.Dropped) {
				drop = append(drop, r.Dropped)
			}
		}
		row.Runs = len(bpb)
		row.BPB, row.SD = mean(bpb), sd(bpb)
		row.Min, row.Max = math.NaN(), math.NaN()
		if len(bpb) > 0 {
			row.Min, row.Max = slices.Min(bpb), slices.Max(bpb)
		}
		row.StepTime, row.Steps, row.Tokens = mean(st), mean(steps), mean(toks)
		row.NoExpert, row.Dropped = mean(none), mean(drop)
	}
	return rows
}

func mean(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// sd is the sample standard deviation (NaN for fewer than 2 values).
func sd(x []float64) float64 {
	if len(x) < 2 {
		return math.NaN()
	}
	m, s := mean(x), 0.0
	for _, v := range x {
		s += (v - m) * (v - m)
	}
	return math.Sqrt(s / float64(len(x)-1))
}

// Settings are what every run shared, for the report's header.
type Settings struct {
	Date     string `json:"date"`
	CPU      string `json:"cpu"`
	Time     string `json:"time"` // per run
	Seeds    int    `json:"seeds"`
	Parallel int    `json:"parallel"`
	Threads  int    `json:"threads"`
	Corpus   string `json:"corpus"`
	Command  string `json:"command"`
	// Precision of the products: float32, or bf16.
	Precision string `json:"precision,omitempty"`
}

// Markdown is the report: settings, then one row per model, the first
// model the reference of the "vs" column.
func Markdown(s Settings, rows []Row) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# bfc compare\n\n%s, %s. Each model trained for %s of training time, %d seed(s), %d run(s) at a time × %d thread(s), on %s.\n\n",
		s.Date, s.CPU, s.Time, s.Seeds, s.Parallel, s.Threads, s.Corpus)
	if s.Precision != "" {
		fmt.Fprintf(&b, "Products in %s precision.\n\n", s.Precision)
	}
	if s.Command != "" {
		fmt.Fprintf(&b, "```sh\n%s\n```\n\n", s.Command)
	}
	b.WriteString("| model | params | activated/token | step time | steps | tokens | held-out bpb (mean ± sd) | min–max | vs first | no expert | dropped | runs |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		vs := "–"
		if len(rows) > 0 && rows[0].Runs > 0 && r.Runs > 0 {
			vs = fmt.Sprintf("%+.1f %%", 100*(r.BPB/rows[0].BPB-1))
		}
		runs := fmt.Sprint(r.Runs)
		if r.Failed > 0 {
			runs += fmt.Sprintf(" (%d failed)", r.Failed)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			r.Model, count(float64(r.Params)), count(float64(r.Activated)), ms(r.StepTime), steps(r.Steps), count(r.Tokens),
			meanSD(r.BPB, r.SD), minMax(r.Min, r.Max), vs, share(r.NoExpert), share(r.Dropped), runs)
	}
	return b.String()
}

func count(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.0fK", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func steps(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.0f", v)
}

func ms(s float64) string {
	if math.IsNaN(s) {
		return "–"
	}
	return fmt.Sprintf("%.1f ms", 1000*s)
}

func meanSD(m, s float64) string {
	switch {
	case math.IsNaN(m):
		return "–"
	case math.IsNaN(s):
		return fmt.Sprintf("%.3f", m)
	}
	return fmt.Sprintf("%.3f ± %.3f", m, s)
}

func minMax(lo, hi float64) string {
	if math.IsNaN(lo) {
		return "–"
	}
	return fmt.Sprintf("%.3f–%.3f", lo, hi)
}

func share(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.1f %%", 100*v)
}

// Report is the JSON the command writes: the settings, the rows and every
// run.
type Report struct {
	Settings Settings `json:"settings"`
	Rows     []Row    `json:"rows"`
	Runs     []Run    `json:"runs"`
}

// JSON encodes the report; NaN becomes null.
func (r *Report) JSON() ([]byte, error) {
	return json.MarshalIndent(finite(reflect.ValueOf(*r)), "", "  ")
}

// finite turns v into maps and slices by its JSON field names, with NaN
// and ±Inf as nil.
func finite(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil
		}
		return f
	case reflect.Slice:
		if v.IsNil() {
			return nil
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = finite(v.Index(i))
		}
		return out
	case reflect.Struct:
		out := map[string]any{}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			name, opts, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			f := v.Field(i)
			if opts == "omitempty" && f.IsZero() {
				continue
			}
			out[name] = finite(f)
		}
		return out
	}
	return v.Interface()
}
