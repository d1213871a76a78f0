package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bfcdev/bfc/bench/internal/peer"
)

func TestParseFlags(t *testing.T) {
	c, err := parseFlags([]string{"-threads", "1, 4", "-runs", "7", "-rounds", "2", "-json", "-peers=false"}, io.Discard)
	if err != nil || len(c.threads) != 2 || c.threads[1] != 4 || c.runs != 7 || c.rounds != 2 || !c.json || c.peers || len(c.shapes) != 4 {
		t.Fatalf("parseFlags = %+v, %v", c, err)
	}
	for _, bad := range [][]string{{"-threads", "0"}, {"-threads", "x"}, {"-runs", "0"}, {"-rounds", "0"}, {"extra"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
}

// fakeNumpy makes peer.Python a script that answers like sgemm.py, taking
// 0.5 ms for every product (and always naming shape 8x4x5).
func fakeNumpy(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "python3")
	script := `#!/bin/sh
if [ "$1" = -c ]; then exit 0; fi
while read shape; do echo '{"shape": "8x4x5", "seconds": 0.0005}'; done
`
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	old, oldBLAS := peer.Python, peer.OpenMPBLAS
	peer.Python, peer.OpenMPBLAS = p, filepath.Join(dir, "none")
	t.Cleanup(func() { peer.Python, peer.OpenMPBLAS = old, oldBLAS })
}

func TestRunReportsRatios(t *testing.T) {
	fakeNumpy(t)
	var out strings.Builder
	c := config{shapes: [][3]int{{8, 4, 5}}, threads: []int{1}, runs: 1, rounds: 2, json: true, peers: true}
	if err := run(c, &out); err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal([]byte(out.String()), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 1 || len(rep.Setups) != 1 {
		t.Fatalf("report %+v", rep)
	}
	r := rep.Rows[0]
	// 2·8·4·5 flops in 0.5 ms.
	if got := r.Peers["as installed"]; got < 0.00063 || got > 0.00065 {
		t.Errorf("peer GFLOP/s = %v, want 0.00064", got)
	}
	if r.BFC <= 0 || r.Gonum <= 0 || r.Shape != "8x4x5" {
		t.Errorf("row %+v", r)
	}
	tab := formatTable(rep)
	if !strings.Contains(tab, "| 1 | 8x4x5 |") || !strings.Contains(tab, "bfc/OpenBLAS") {
		t.Errorf("table:\n%s", tab)
	}
}

func TestBadPeerOutputIsAnError(t *testing.T) {
	fakeNumpy(t)
	err := run(config{shapes: [][3]int{{2, 2, 2}}, threads: []int{1}, runs: 1, rounds: 1, peers: true}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "unexpected result") {
		t.Errorf("mismatched shape from the peer: %v", err)
	}
}

func TestPeerThatDiesIsAnError(t *testing.T) {
	fakeNumpy(t)
	script := "#!/bin/sh\nif [ \"$1\" = -c ]; then exit 0; fi\necho 'numpy: out of memory' >&2\nexit 3\n"
	if err := os.WriteFile(peer.Python, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	err := run(config{shapes: [][3]int{{8, 4, 5}}, threads: []int{1}, runs: 1, rounds: 1, peers: true}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "no answer for 8x4x5") || !strings.Contains(err.Error(), "out of memory") {
		t.Errorf("peer that exits: %v", err)
	}
}

func TestRunBF16(t *testing.T) {
	fakeNumpy(t)
	var out strings.Builder
	c := config{shapes: [][3]int{{8, 4, 5}}, threads: []int{1}, runs: 1, rounds: 1, json: true, peers: true, bf16: true}
	if err := run(c, &out); err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal([]byte(out.String()), &rep); err != nil {
		t.Fatal(err)
	}
	r := rep.Rows[0]
	if rep.DType != "bf16" || rep.BF16 == "" || r.BFC <= 0 || r.BFC32 <= 0 || r.Gonum != 0 {
		t.Errorf("report %+v, row %+v", rep, r)
	}
	if got := r.Peers["as installed"]; got < 0.00063 || got > 0.00065 {
		t.Errorf("peer GFLOP/s = %v, want 0.00064", got)
	}
	if tab := formatTable(rep); !strings.Contains(tab, "bfc/torch") || !strings.Contains(tab, "bf16/float32") {
		t.Errorf("table:\n%s", tab)
	}
	if _, err := parseFlags([]string{"-dtype", "fp8"}, io.Discard); err == nil {
		t.Error("-dtype fp8 accepted")
	}
}
