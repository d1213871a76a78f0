package stats

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

var sprintf = fmt.Sprintf

// WriteTable writes s as a table, one row per part, then the totals.
func (s *Model) WriteTable(w io.Writer) error {
	head := "tied"
	if !s.Tied {
		head = "untied"
	}
	if _, err := fmt.Fprintf(w, "model %s: vocab %d, d %d, input(batch: %d, seq: %d), head %s\n\n",
		s.Name, s.Vocab, s.D, s.MaxBatch, s.MaxSeq, head); err != nil {
		return err
	}
	rows := [][]string{{"layer", "kind", "params", "activated", "FLOPs/token", ""}}
	for _, r := range s.Rows {
		rows = append(rows, []string{r.Name, r.Kind, Group(r.Params), Group(r.Activated), Group(r.FLOPs), r.Detail})
	}
	rows = append(rows, []string{"total", "", Group(s.Params), Group(s.Activated), Group(s.FLOPs), ""})
	if err := writeColumns(w, rows, []bool{false, false, true, true, true, false}); err != nil {
		return err
	}
	score := ""
	if s.ScoreFLOPsPerPos > 0 {
		score = sprintf("attention scores: %s FLOPs per token and attended position; %s per token at seq %d (causal layers attend to (seq+1)/2 positions on average)\n",
			Group(s.ScoreFLOPsPerPos), Short(s.ScoreFLOPs), s.MaxSeq)
	}
	tied := ""
	if s.Tied {
		tied = " and the tied head"
	}
	_, err := fmt.Fprintf(w, "\nparams: %s (embeddings %s, non-embedding %s)\nactivated: %s per token (embeddings%s excluded; top_k counts k experts, expert_choice its capacity c)\nFLOPs: %s per token, forward matmuls at 2 per multiply-add, head included, attention scores excluded\n%s",
		Short(s.Params), Short(s.Embedding), Short(s.NonEmbedding), Short(s.Activated), tied, Short(s.FLOPs), score)
	return err
}

// Group formats n with commas between groups of three digits: 1,234,567.
func Group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// Short formats n with four significant digits and a K, M, B or T suffix:
// 1.173B, 127.5M, 768.
func Short(n int64) string {
	f := float64(n)
	for _, u := range []struct {
		div    float64
		suffix string
	}{{1e12, "T"}, {1e9, "B"}, {1e6, "M"}, {1e3, "K"}} {
		if math.Abs(f) >= u.div {
			return strconv.FormatFloat(f/u.div, 'g', 4, 64) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// writeColumns writes rows as columns two spaces apart, right-aligning the
// columns marked in right, with no trailing spaces.
func writeColumns(w io.Writer, rows [][]string, right []bool) error {
	width := make([]int, len(right))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		var line strings.Builder
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i > 0 {
				line.WriteString("  ")
			}
			if right[i] {
				line.WriteString(pad + c)
			} else {
				line.WriteString(c + pad)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
