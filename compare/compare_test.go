package compare

import (
	"bytes"
	"encoding/json"
	"image/png"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const moeLog = `{"step":50,"elapsed_s":1.5,"train_bpb":4.1,"tokens":51200}
{"step":60,"elapsed_s":2.0,"heldout_bpb":3.9,"final":false,"tokens":61440}
{"step":120,"elapsed_s":4.0,"heldout_bpb":3.5,"final":false,"tokens":122880}
{"step":150,"elapsed_s":5.0,"heldout_bpb":3.25,"final":true,"tokens":153600,"routing":[{"experts_per_token_share":[0.4,0.3,0.3],"layer":"a","tokens":1024},{"experts_per_token_share":[0.2,0.8],"layer":"b","tokens":1024,"drop_rate":0.1}]}
`

func TestReadLog(t *testing.T) {
	var r Run
	require.NoError(t, r.ReadLog(strings.NewReader(moeLog), "x.jsonl"))
	assert.Equal(t, []Point{{2, 3.9}, {4, 3.5}, {5, 3.25}}, r.Curve)
	assert.Equal(t, 150, r.Steps)
	assert.Equal(t, int64(153600), r.Tokens)
	assert.InDelta(t, 5.0/150, r.StepTime(), 1e-12)
	assert.Equal(t, 3.25, r.BPB)
	assert.InDelta(t, 0.3, r.NoExpert, 1e-12) // (0.4 + 0.2) / 2
	assert.InDelta(t, 0.1, r.Dropped, 1e-12)  // the one top_k layer

	var dense Run
	require.NoError(t, dense.ReadLog(strings.NewReader(`{"step":10,"elapsed_s":1,"heldout_bpb":3,"final":true,"tokens":10}`), "d"))
	assert.True(t, math.IsNaN(dense.NoExpert) && math.IsNaN(dense.Dropped), "a dense model has no routing shares")

	err := new(Run).ReadLog(strings.NewReader("{\"step\":1}\nnot json\n"), "bad.jsonl")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "bad.jsonl:2")
	err = new(Run).ReadLog(strings.NewReader(`{"step":60,"elapsed_s":2.0,"heldout_bpb":3.9}`), "cut.jsonl")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "did not finish")
}

func runs() []Run {
	nan := math.NaN()
	return []Run{
		{Model: "dense", Seed: 1, Status: "ok", Params: 800000, Activated: 780000, Steps: 100, Tokens: 1000, Seconds: 10, BPB: 2.0, NoExpert: nan, Dropped: nan},
		{Model: "moe", Seed: 1, Status: "ok", Params: 3000000, Activated: 790000, Steps: 50, Tokens: 500, Seconds: 10, BPB: 2.5, NoExpert: 0.4, Dropped: nan},
		{Model: "dense", Seed: 2, Status: "ok", Params: 800000, Activated: 780000, Steps: 200, Tokens: 2000, Seconds: 10, BPB: 2.2, NoExpert: nan, Dropped: nan},
		{Model: "moe", Seed: 2, Status: "failed", Error: "NaN"},
		{Model: "dense", Seed: 3, Status: "ok", Params: 800000, Activated: 780000, Steps: 300, Tokens: 3000, Seconds: 10, BPB: 2.4, NoExpert: nan, Dropped: nan},
	}
}

func TestSummarise(t *testing.T) {
	rows := Summarise(runs())
	require.Len(t, rows, 2)
	d, m := rows[0], rows[1]
	assert.Equal(t, "dense", d.Model)
	assert.Equal(t, 3, d.Runs)
	assert.InDelta(t, 2.2, d.BPB, 1e-12)
	assert.InDelta(t, 0.2, d.SD, 1e-12) // sqrt((0.04+0+0.04)/2)
	assert.Equal(t, 2.0, d.Min)
	assert.Equal(t, 2.4, d.Max)
	assert.InDelta(t, (0.1+0.05+10.0/300)/3, d.StepTime, 1e-12)
	assert.InDelta(t, 200, d.Steps, 1e-12)
	assert.True(t, math.IsNaN(d.NoExpert))

	assert.Equal(t, 1, m.Runs)
	assert.Equal(t, 1, m.Failed)
	assert.Equal(t, 2.5, m.BPB)
	assert.True(t, math.IsNaN(m.SD), "one run has no spread")
	assert.Equal(t, 0.4, m.NoExpert)
}

func TestMarkdownAndJSON(t *testing.T) {
	rs := runs()
	rows := Summarise(rs)
	md := Markdown(Settings{Date: "2026-12-07", CPU: "a CPU", Time: "5m0s", Seeds: 3, Parallel: 1, Threads: 2, Corpus: "Go's sources"}, rows)
	assert.Contains(t, md, "| dense | 800K | 780K | 61.1 ms | 200 | 2K | 2.200 ± 0.200 | 2.000–2.400 | +0.0 % | – | – | 3 |")
	assert.Contains(t, md, "| moe | 3.00M | 790K | 200.0 ms | 50 | 500 | 2.500 | 2.500–2.500 | +13.6 % | 40.0 % | – | 1 (1 failed) |")

	b, err := (&Report{Rows: rows, Runs: rs}).JSON()
	require.NoError(t, err)
	var back struct {
		Rows []map[string]any `json:"rows"`
		Runs []map[string]any `json:"runs"`
	}
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Nil(t, back.Rows[1]["heldout_bpb_sd"], "NaN is null")
	assert.Equal(t, 2.2, math.Round(back.Rows[0]["heldout_bpb"].(float64)*1e9)/1e9)
	assert.Equal(t, "NaN", back.Runs[3]["error"])
}

func TestPlots(t *testing.T) {
	rs := runs()
	rs[0].Curve = []Point{{1, 3}, {2, 2.5}, {10, 2}}
	rs[1].Curve = []Point{{1, 3.5}, {10, 2.5}}
	for _, p := range []struct {
		name string
		draw func(io.Writer) error
	}{
		{"curves.png", func(w io.Writer) error { return CurvesPNG(rs, w) }},
		{"step.png", func(w io.Writer) error { return StepPNG(Summarise(rs), w) }},
	} {
		var b bytes.Buffer
		require.NoError(t, p.draw(&b))
		img, err := png.Decode(&b)
		require.NoError(t, err, p.name)
		assert.Equal(t, width, img.Bounds().Dx())
		assert.Equal(t, height, img.Bounds().Dy())
	}
	assert.Error(t, CurvesPNG(rs[3:4], io.Discard), "a failed run alone has nothing to plot")
	assert.Error(t, StepPNG(nil, io.Discard))
}
