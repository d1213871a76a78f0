package search

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"
)

// Journal events.
const (
	EvSearch   = "search"   // the search's settings; first record, and at each resume
	EvStarted  = "started"  // a trial's candidate was proposed and started
	EvMeasured = "measured" // its training step was timed
	EvRejected = "rejected" // its step was slower than the limit; never trained
	EvFinished = "finished" // trained, held-out bpb known (or stopped at the hurdle)
	EvFailed   = "failed"   // the trial failed: build, panic, NaN, out of memory or time
)

// Record is one line of a search journal.
type Record struct {
	Event   string  `json:"event"`
	Trial   int     `json:"trial"`
	Time    string  `json:"time"`      // wall-clock time, RFC 3339
	Elapsed float64 `json:"elapsed_s"` // the search's wall-clock time so far, over every session

	// search
	Settings *Settings `json:"settings,omitempty"`

	// started
	Candidate string  `json:"candidate,omitempty"` // the candidate's .bf text, its identity
	Genome    *Genome `json:"genome,omitempty"`
	Origin    string  `json:"origin,omitempty"` // baseline, random, or the mutation that made it
	Parent    *int    `json:"parent,omitempty"`
	Params    int64   `json:"params,omitempty"`
	Activated int64   `json:"activated,omitempty"`
	Threshold *Num    `json:"hurdle_threshold,omitempty"` // held-out bpb above which the hurdle stops it

	// measured, rejected
	StepTime *Num `json:"step_time_s,omitempty"`
	Limit    *Num `json:"limit_s,omitempty"`

	// finished
	BPB       *Num    `json:"heldout_bpb,omitempty"`
	HurdleBPB *Num    `json:"hurdle_bpb,omitempty"`
	Stopped   bool    `json:"stopped_at_hurdle,omitempty"`
	Steps     int     `json:"steps,omitempty"`
	Tokens    int64   `json:"tokens,omitempty"`
	Seconds   float64 `json:"train_s,omitempty"`

	// rejected, failed
	Reason string `json:"reason,omitempty"`
}

// Num is a float64 that is written as null when it is not finite.
type Num float64

func (n Num) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(n)) || math.IsInf(float64(n), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(n))
}

func (n *Num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Num(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = Num(f)
	return nil
}

func num(f float64) *Num { n := Num(f); return &n }

// val returns the number, NaN for nil.
func (n *Num) val() float64 {
	if n == nil {
		return math.NaN()
	}
	return float64(*n)
}

// Settings are what a search was started with. A resumed search must have
// the same ones, except Budget, Workers and Threads.
type Settings struct {
	Space      string   `json:"space"`      // the space file's path as given
	SpaceName  string   `json:"space_name"` // the search declaration
	SpaceHash  string   `json:"space_hash"` // of the baseline's text and the space's alternatives
	Strategy   string   `json:"strategy"`
	Seed       uint64   `json:"seed"`
	Population int      `json:"population"`
	Init       string   `json:"init,omitempty"`
	Sample     int      `json:"sample"`
	Trial      string   `json:"trial"` // wall clock per trial
	Budget     string   `json:"budget"`
	Slack      float64  `json:"slack"`
	Hurdle     float64  `json:"hurdle"`
	Workers    int      `json:"workers"`
	Threads    int      `json:"threads"`
	Corpus     []string `json:"corpus,omitempty"`
	CPU        string   `json:"cpu,omitempty"`
	Extra      []string `json:"trainer_flags,omitempty"`
	Precision  string   `json:"precision,omitempty"` // of the trials' products: float32 when empty
}

// journal appends records to a file, each synced to disk before the
// search goes on, so that a crash loses at most the trials in flight.
type journal struct {
	f    *os.File
	path string
}

func openJournal(path string) (*journal, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return &journal{f: f, path: path}, nil
}

func (j *journal) write(r *Record) error {
	if r.Time == "" {
		r.Time = time.Now().UTC().Format(time.RFC3339)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	b = append(b, '\n')
	if _, err := j.f.Write(b); err != nil {
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	return nil
}

func (j *journal) close() error { return j.f.Close() }

// ReadJournal reads a search journal. A last line cut short (the search
// was killed while writing it) is dropped and reported in torn; any other
// bad line is an error naming it.
func ReadJournal(path string) (recs []*Record, torn bool, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, false, fmt.Errorf("journal: %w", err)
	}
	return parseJournal(path, data)
}

func parseJournal(path string, data []byte) ([]*Record, bool, error) {
	var recs []*Record
	r := bufio.NewReader(bytes.NewReader(data))
	line := 0
	for {
		b, err := r.ReadBytes('\n')
		if len(b) == 0 && errors.Is(err, io.EOF) {
			break
		}
		line++
		complete := len(b) > 0 && b[len(b)-1] == '\n'
		rec := &Record{}
		if jerr := json.Unmarshal(bytes.TrimSpace(b), rec); jerr != nil || !validEvent(rec.Event) {
			if !complete {
				return recs, true, nil
			}
			why := "unknown event " + fmt.Sprintf("%q", rec.Event)
			if jerr != nil {
				why = jerr.Error()
			}
			return nil, false, fmt.Errorf("%s:%d: not a search journal record (%s); a journal is written by bfc search and only appended to", path, line, why)
		}
		if !complete {
			// A whole record without its newline: keep it.
			recs = append(recs, rec)
			break
		}
		recs = append(recs, rec)
		if err != nil {
			break
		}
	}
	if len(recs) > 0 && recs[0].Event != EvSearch {
		return nil, false, fmt.Errorf("%s:1: a search journal starts with a %q record, not %q", path, EvSearch, recs[0].Event)
	}
	return recs, false, nil
}

func validEvent(e string) bool {
	switch e {
	case EvSearch, EvStarted, EvMeasured, EvRejected, EvFinished, EvFailed:
		return true
	}
	return false
}
