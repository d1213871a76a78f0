package moe

import (
	"fmt"
	"strconv"
	"strings"
)

// LayerStats names the Stats of one layer.
type LayerStats struct {
	Name string
	Stats
}

// FormatStats returns one line per layer, for example
//
//	blocks.0.moe1: load min/max 60/70 of 64 · tokens 0/1/2/3+ experts 12%/61%/22%/5% · dropped 0.0%
//
// where "of" gives the mean load per expert; "dropped" (the share of
// top-k choices dropped for capacity) appears only for top-k layers.
func FormatStats(s []LayerStats) string {
	var b strings.Builder
	for _, l := range s {
		b.WriteString(l.Name)
		b.WriteString(":")
		if len(l.Load) > 0 {
			lo, hi, sum := l.Load[0], l.Load[0], 0
			for _, v := range l.Load {
				lo, hi, sum = min(lo, v), max(hi, v), sum+v
			}
			mean := float64(sum) / float64(len(l.Load))
			fmt.Fprintf(&b, " load min/max %d/%d of %s ·", lo, hi, strings.TrimSuffix(strconv.FormatFloat(mean, 'f', 1, 64), ".0"))
		}
		pct := func(n, of int) float64 {
			if of == 0 {
				return 0
			}
			return 100 * float64(n) / float64(of)
		}
		p := l.PerToken
		fmt.Fprintf(&b, " tokens 0/1/2/3+ experts %.0f%%/%.0f%%/%.0f%%/%.0f%%",
			pct(p[0], l.Tokens), pct(p[1], l.Tokens), pct(p[2], l.Tokens), pct(p[3], l.Tokens))
		if l.Choices > 0 {
			fmt.Fprintf(&b, " · dropped %.1f%%", pct(l.Dropped, l.Choices))
		}
		b.WriteByte('\n')
	}
	return b.String()
}
