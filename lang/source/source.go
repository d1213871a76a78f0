package source

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a position in a source file. Line and Col are 1-based; Col counts
// bytes. The zero Pos is "no position".
type Pos struct {
	File   string
	Offset int
	Line   int
	Col    int
}

// IsValid reports whether p carries a line.
func (p Pos) IsValid() bool { return p.Line > 0 }

// String formats p as file:line:col (or a shorter form when parts are missing).
func (p Pos) String() string {
	switch {
	case !p.IsValid() && p.File == "":
		return "-"
	case !p.IsValid():
		return p.File
	case p.File == "":
		return fmt.Sprintf("%d:%d", p.Line, p.Col)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Before reports whether p comes before q in the same file (by line, column).
func (p Pos) Before(q Pos) bool {
	if p.File != q.File {
		return p.File < q.File
	}
	if p.Line != q.Line {
		return p.Line < q.Line
	}
	return p.Col < q.Col
}

// Diagnostic is one positioned error. Code is a stable, documented name such
// as "UnknownName"; Notes are follow-up lines printed tab-indented.
type Diagnostic struct {
	Pos   Pos
	Code  string
	Msg   string
	Notes []Note
}

// Note is a secondary line of a diagnostic, such as "other declaration of x".
type Note struct {
	Pos Pos
	Msg string
}

func (d *Diagnostic) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", d.Pos, d.Msg)
	for _, n := range d.Notes {
		if n.Pos.IsValid() {
			fmt.Fprintf(&b, "\n\t%s: %s", n.Pos, n.Msg)
		} else {
			fmt.Fprintf(&b, "\n\t%s", n.Msg)
		}
	}
	return b.String()
}

// List is a list of diagnostics; it implements error.
type List []*Diagnostic

// Add appends a diagnostic.
func (l *List) Add(pos Pos, code, format string, args ...any) *Diagnostic {
	d := &Diagnostic{Pos: pos, Code: code, Msg: fmt.Sprintf(format, args...)}
	*l = append(*l, d)
	return d
}

// Sort orders the list by file, line and column, keeping the order of
// diagnostics at the same position.
func (l List) Sort() {
	sort.SliceStable(l, func(i, j int) bool { return l[i].Pos.Before(l[j].Pos) })
}

// RemoveMultiples sorts the list and keeps only the first diagnostic per line.
func (l *List) RemoveMultiples() {
	l.Sort()
	out := (*l)[:0]
	var last Pos
	for i, d := range *l {
		if i > 0 && d.Pos.File == last.File && d.Pos.Line == last.Line && d.Pos.IsValid() {
			continue
		}
		last = d.Pos
		out = append(out, d)
	}
	*l = out
}

// Err returns nil for an empty list and the list otherwise.
func (l List) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

func (l List) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	return fmt.Sprintf("%s (and %d more errors)", l[0].Error(), len(l)-1)
}
