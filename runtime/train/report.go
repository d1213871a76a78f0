package train

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
)

// Report is the JSON object that a trainer's -result flag writes when a
// run ends (runtime/train/cli), for tools that run trainers as child
// processes. Status is "ok" (trained to the end and evaluated), "hurdle"
// (the hurdle ended the run), "stopped" (Config.Stop: Ctrl-C, SIGTERM),
// "failed" (Error says why) or "measured" (Measure). Decoding with
// encoding/json reads back what MarshalJSON writes; a JSON null (no value,
// or NaN/Inf) decodes as a nil pointer.
type Report struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`

	// A run (NewReport). The hurdle fields are nil when no hurdle
	// evaluation happened.
	Steps          int      `json:"steps"`
	Tokens         int64    `json:"tokens"`
	ElapsedS       float64  `json:"elapsed_s"` // training time
	TokensPerS     float64  `json:"tokens_per_s"`
	HeldOutBPB     *float64 `json:"heldout_bpb"` // the last held-out evaluation's (nil: none)
	TrainLoss      *float64 `json:"train_loss"`  // mean cross-entropy (nats) of the last steps (nil: none)
	HurdleBPB      *float64 `json:"hurdle_bpb,omitempty"`
	HurdleStep     *int     `json:"hurdle_step,omitempty"`
	HurdleElapsedS *float64 `json:"hurdle_elapsed_s,omitempty"`

	// A measurement (MeasureReport): StepTimesS is not nil.
	StepTimesS  []float64 `json:"step_times_s,omitempty"`
	MedianStepS *float64  `json:"median_step_s,omitempty"`

	Params     int `json:"params"`     // the model's parameter count
	GOMAXPROCS int `json:"gomaxprocs"` // the threads the run used
}

// NewReport reports how a run ended: res and err as Run returned them (res
// may be nil: the run failed before training), params the model's
// parameter count.
func NewReport(res *Result, err error, params int) *Report {
	r := &Report{Status: "ok", Params: params, GOMAXPROCS: runtime.GOMAXPROCS(0)}
	switch {
	case err != nil:
		r.Status, r.Error = "failed", err.Error()
	case res == nil:
		r.Status, r.Error = "failed", "no result"
	case res.Hurdled:
		r.Status = "hurdle"
	case res.Stopped:
		r.Status = "stopped"
	}
	if res == nil {
		return r
	}
	r.Steps, r.Tokens, r.ElapsedS = res.Steps, res.Tokens, res.Elapsed.Seconds()
	if res.Elapsed > 0 {
		r.TokensPerS = float64(res.Tokens) / res.Elapsed.Seconds()
	}
	r.HeldOutBPB, r.TrainLoss = number(res.HeldOutBPB), number(res.TrainLoss)
	if res.Steps == 0 {
		r.TrainLoss = nil
	}
	if h := res.Hurdle; h != nil {
		step, el := h.Step, h.Elapsed.Seconds()
		r.HurdleBPB, r.HurdleStep, r.HurdleElapsedS = number(h.BPB), &step, &el
	}
	return r
}

// MeasureReport reports a Measure: ms and err as it returned them. Its
// status is "measured", or "stopped" or "failed" with the steps timed
// until then.
func MeasureReport(ms *Measurement, err error, params int) *Report {
	r := &Report{Status: "measured", StepTimesS: []float64{}, Params: params, GOMAXPROCS: runtime.GOMAXPROCS(0)}
	switch {
	case err != nil:
		r.Status, r.Error = "failed", err.Error()
	case ms == nil:
		r.Status, r.Error = "failed", "no measurement"
	case ms.Stopped:
		r.Status = "stopped"
	}
	if ms == nil {
		return r
	}
	for _, d := range ms.StepTimes {
		r.StepTimesS = append(r.StepTimesS, d.Seconds())
	}
	if len(ms.StepTimes) > 0 {
		r.MedianStepS = number(ms.Median.Seconds())
	}
	return r
}

// number returns a pointer to x, or nil for NaN and ±Inf.
func number(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

// MarshalJSON writes the fields of a run or of a measurement (StepTimesS
// not nil), with null for a missing held-out or training loss; "error"
// only when failed, the hurdle fields only after a hurdle evaluation
// (hurdle_bpb null when it was not a number).
func (r *Report) MarshalJSON() ([]byte, error) {
	rec := map[string]any{"status": r.Status, "params": r.Params, "gomaxprocs": r.GOMAXPROCS}
	if r.Error != "" || r.Status == "failed" {
		rec["error"] = r.Error
	}
	if r.StepTimesS != nil {
		rec["step_times_s"] = r.StepTimesS
		rec["median_step_s"] = r.MedianStepS
		return json.Marshal(rec)
	}
	rec["steps"], rec["tokens"], rec["elapsed_s"], rec["tokens_per_s"] = r.Steps, r.Tokens, r.ElapsedS, r.TokensPerS
	rec["heldout_bpb"], rec["train_loss"] = r.HeldOutBPB, r.TrainLoss
	if r.HurdleStep != nil {
		rec["hurdle_bpb"], rec["hurdle_step"], rec["hurdle_elapsed_s"] = r.HurdleBPB, *r.HurdleStep, r.HurdleElapsedS
	}
	return json.Marshal(rec)
}

// WriteFile writes r as one JSON object (and a newline) to path
// atomically: to a temporary file in the same directory, synced, then
// renamed over path, so that a reader sees the whole report or none.
func (r *Report) WriteFile(path string) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding the result: %w", err)
	}
	return writeAtomic(path, append(b, '\n'))
}

// writeAtomic writes b to path through a temporary file and a rename.
func writeAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
