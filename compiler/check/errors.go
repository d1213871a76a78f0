package check

import (
	"fmt"
	"sort"
	"strings"

	"github.com/bfcdev/bfc/lang/source"
)

// errorf records a diagnostic. It returns the diagnostic so callers can add
// notes.
func (c *checker) errorf(pos source.Pos, code, format string, args ...any) *source.Diagnostic {
	d := &source.Diagnostic{Pos: pos, Code: code, Msg: fmt.Sprintf(format, args...)}
	c.diags = append(c.diags, d)
	return d
}

// note appends a secondary line to d (which may be nil: a dropped error).
func note(d *source.Diagnostic, pos source.Pos, format string, args ...any) {
	if d != nil {
		d.Notes = append(d.Notes, source.Note{Pos: pos, Msg: fmt.Sprintf(format, args...)})
	}
}

// unknownName reports a name that resolves to nothing. In a run where an
// import failed the name may come from the missing file, so it is dropped.
func (c *checker) unknownName(pos source.Pos, format string, args ...any) *source.Diagnostic {
	if c.incomplete {
		return nil
	}
	return c.errorf(pos, UnknownName, format, args...)
}

// finish sorts the diagnostics, drops exact repeats (the same message at
// the same place, as block instances produce) and keeps the first
// diagnostic of each line.
func (c *checker) finish() source.List {
	l := source.List(c.diags)
	l.Sort()
	type key struct {
		pos       source.Pos
		code, msg string
	}
	seen := map[key]bool{}
	out := l[:0]
	for _, d := range l {
		k := key{d.Pos, d.Code, d.Msg}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, d)
	}
	out.RemoveMultiples()
	if len(out) == 0 {
		return nil
	}
	return out
}

// suggest returns the candidate closest to name by edit distance, or "" if
// none is close enough to be a likely typo. Failing that, a candidate that
// name abbreviates (or that abbreviates name) is suggested.
func suggest(name string, candidates []string) string {
	best, bestD := "", 0
	prefix := ""
	lname := strings.ToLower(name)
	for _, cand := range candidates {
		if cand == name || cand == "" {
			continue
		}
		lcand := strings.ToLower(cand)
		if prefix == "" && len(name) >= 3 && len(cand) >= 3 && (strings.HasPrefix(lcand, lname) || strings.HasPrefix(lname, lcand)) {
			prefix = cand
		}
		d := editDistance(lname, lcand)
		limit := min(max(1, len(name)/3), 3)
		if d > limit || d >= len(name) && d >= len(cand) {
			continue
		}
		if best == "" || d < bestD || d == bestD && cand < best {
			best, bestD = cand, d
		}
	}
	if best == "" {
		return prefix
	}
	return best
}

// didYouMean formats a suggestion as " (did you mean x?)", or "".
func didYouMean(name string, candidates []string) string {
	if s := suggest(name, candidates); s != "" {
		return fmt.Sprintf(" (did you mean %s?)", s)
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b, counting a
// transposition of neighbours as one edit.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		if a == b {
			return 0
		}
		return 1 << 10
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
