package main

import (
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/bfcdev/bfc/bench/internal/peer"
)

func TestParseFlags(t *testing.T) {
	c, err := parseFlags([]string{"-threads", "1, 2,4", "-runs", "5", "-rounds", "3", "-json"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.threads, []int{1, 2, 4}) || c.runs != 5 || c.rounds != 3 || c.warmup != 1 || !c.json || !c.torch {
		t.Errorf("parsed %+v", c)
	}
	c, err = parseFlags(nil, io.Discard)
	if err != nil || !slices.Equal(c.threads, []int{1, 2}) || c.runs != 3 || c.rounds != 1 || c.json {
		t.Errorf("defaults: %+v, %v", c, err)
	}
	for _, bad := range [][]string{{"-threads", "0"}, {"-threads", "1,x"}, {"-runs", "0"}, {"-rounds", "0"}, {"-warmup", "-1"}, {"extra"}, {"-nope"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func sampleReport() Report {
	return Report{Date: "2026-11-27T11:00:00Z", CPU: "test CPU (2 CPUs)", Go: "go1.26", Torch: "1.13.1",
		Setups: []string{"as installed"}, Runs: 3, Warmup: 1,
		Results: []Result{
			{Threads: 1, GoForwardMs: 100, GoForwardBackMs: 300, GoHeapInuseMiB: 370, GoMaxRSSMiB: 280,
				Torch: []Torch{{Setup: "as installed", ForwardMs: 200, ForwardBackMs: 600, MaxRSSMiB: 560}}},
			{Threads: 2, GoForwardMs: 60, GoForwardBackMs: 150, GoHeapInuseMiB: 370, GoMaxRSSMiB: 280},
		}}
}

func TestFormatTable(t *testing.T) {
	s := formatTable(sampleReport())
	for _, want := range []string{
		"| 1 | forward | 100.0 | as installed | 200.0 | 0.50 |",
		"| 1 | forward+backward | 300.0 | as installed | 600.0 | 0.50 |",
		"| 2 | forward | 60.0 | – | – | – |",
		"| 1 | 370 | 280 | as installed | 560 | 0.50 |",
		"PyTorch 1.13.1 (as installed)",
		"median of 3 runs after 1 warm-up",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("table lacks %q:\n%s", want, s)
		}
	}
}

func TestReportJSON(t *testing.T) {
	b, err := json.Marshal(sampleReport())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"go_forward_backward_ms":300`, `"forward_backward_ms":600`, `"maxrss_mib":560`, `"torch_setups":["as installed"]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s: %s", want, b)
		}
	}
}

func TestMissingTorchIsAnError(t *testing.T) {
	old := peer.Python
	peer.Python = "/nonexistent/python3"
	defer func() { peer.Python = old }()
	err := run(config{threads: []int{1}, runs: 1, torch: true}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "cannot import torch") || !strings.Contains(err.Error(), "-torch=false") {
		t.Errorf("without torch: %v", err)
	}
}

func TestFormatTableBF16(t *testing.T) {
	rep := sampleReport()
	rep.Precision, rep.CPUBF16, rep.BF16Impl = "bf16", "AMX-BF16, AVX512_BF16", "amx"
	rep.Results[0].BF16 = &GoSide{ForwardMs: 50, ForwardBackMs: 150, HeapInuseMiB: 400, ArenaMiB: 120}
	rep.Results[0].GoArenaMiB = 110
	rep.Results[1].BF16 = &GoSide{ForwardMs: 30, ForwardBackMs: 90}
	s := formatTable(rep)
	for _, want := range []string{
		"| 1 | forward | 50.0 | 100.0 | 0.50 | as installed | 200.0 | 0.25 |",
		"| 1 | forward+backward | 150.0 | 300.0 | 0.50 | as installed | 600.0 | 0.25 |",
		"| 2 | forward | 30.0 | 60.0 | 0.50 | – | – | – |",
		"| 1 | 120 | 110 | 400 | 370 | 280 | as installed | 560 |",
		"bfc runs amx", "torch.autocast",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("table lacks %q:\n%s", want, s)
		}
	}
	if _, err := parseFlags([]string{"-precision", "fp16"}, io.Discard); err == nil {
		t.Error("-precision fp16 accepted")
	}
}
