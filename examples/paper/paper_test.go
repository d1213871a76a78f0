package paper

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/bfcdev/bfc/compiler"
	"github.com/bfcdev/bfc/compiler/stats"
	"github.com/bfcdev/bfc/lang/printer"
	"github.com/stretchr/testify/require"
)

// asFound are the models kept at the size a search found them, outside the
// matching.
var asFound = map[string]bool{"searched_found.bf": true, "dense_small.bf": true}

// TestSuiteMatched: every model checks, is formatted, has the dense
// baseline's input, embedding and head, and activates within 10 % of the
// dense baseline's parameters per token.
func TestSuiteMatched(t *testing.T) {
	files, err := filepath.Glob("*.bf")
	require.NoError(t, err)
	blocks, err := filepath.Glob("blocks/*.bf")
	require.NoError(t, err)
	for _, f := range append(files, blocks...) {
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		out, err := printer.Format(f, src)
		require.NoError(t, err, f)
		require.Equal(t, string(src), string(out), "%s is not formatted: run bfc fmt -w %s", f, f)
	}
	model := func(f string) (*stats.Model, [3]int) {
		res, diags := compiler.Check(compiler.Options{}, f)
		require.Empty(t, diags, f)
		require.Len(t, res.Models, 1, f)
		m := res.Models[0]
		return stats.Compute(m), [3]int{m.MaxBatch * m.MaxSeq, m.Vocab, m.D}
	}
	dense, shape := model("dense.bf")
	require.Greater(t, len(files), 8)
	for _, f := range files {
		s, sh := model(f)
		if asFound[f] {
			continue
		}
		require.Equal(t, shape, sh, "%s: tokens per step, vocab and width must be the dense baseline's", f)
		ratio := float64(s.Activated) / float64(dense.Activated)
		require.InDelta(t, 1, ratio, 0.1, "%s activates %d parameters per token, dense.bf %d", f, s.Activated, dense.Activated)
	}
}
