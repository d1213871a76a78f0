package ast

import (
	"bufio"
	"fmt"
	"io"
	"reflect"
	"strconv"

	"github.com/alecthomas/participle/v2/lexer"
)

// Fdump writes a readable, indented dump of node (any pointer to a node of
// this package) to w, one field per line, for tests and debugging. A node's
// header shows its type and source range as line:col-line:col; nil pointers,
// empty slices, empty strings and false booleans are left out.
func Fdump(w io.Writer, node any) error {
	bw := bufio.NewWriter(w)
	d := dumper{w: bw}
	v := reflect.ValueOf(node)
	if v.IsValid() && v.Kind() == reflect.Pointer && !v.IsNil() {
		d.node(v.Elem(), 0)
	} else {
		fmt.Fprintln(bw, "nil")
	}
	return bw.Flush()
}

type dumper struct {
	w *bufio.Writer
}

func rangeString(pos, end lexer.Position) string {
	return fmt.Sprintf("%d:%d-%d:%d", pos.Line, pos.Column, end.Line, end.Column)
}

func (d *dumper) indent(n int) {
	for range n {
		d.w.WriteString("  ")
	}
}

// node writes a struct header line (already indented by the caller) and its
// fields at depth+1.
func (d *dumper) node(s reflect.Value, depth int) {
	t := s.Type()
	d.w.WriteString(t.Name())
	if p, ok := t.FieldByName("Pos"); ok {
		if e, ok := t.FieldByName("EndPos"); ok {
			d.w.WriteString(" " + rangeString(s.FieldByIndex(p.Index).Interface().(lexer.Position), s.FieldByIndex(e.Index).Interface().(lexer.Position)))
		} else {
			pos := s.FieldByIndex(p.Index).Interface().(lexer.Position)
			fmt.Fprintf(d.w, " %d:%d", pos.Line, pos.Column)
		}
	}
	d.w.WriteString("\n")
	for i := 0; i < s.NumField(); i++ {
		f := t.Field(i)
		if f.Name == "Pos" || f.Name == "EndPos" {
			continue
		}
		d.field(f.Name, s.Field(i), depth+1)
	}
}

func (d *dumper) field(name string, v reflect.Value, depth int) {
	if v.Type() == positionType {
		p := v.Interface().(lexer.Position)
		if p.Line == 0 {
			return
		}
		d.indent(depth)
		fmt.Fprintf(d.w, "%s %d:%d\n", name, p.Line, p.Column)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		d.indent(depth)
		if v.Elem().Kind() == reflect.Struct {
			d.w.WriteString(name + ": ")
			d.node(v.Elem(), depth)
		} else {
			d.w.WriteString(name + " " + scalar(v.Elem()) + "\n")
		}
	case reflect.Slice:
		for j := 0; j < v.Len(); j++ {
			d.field(fmt.Sprintf("%s[%d]", name, j), v.Index(j), depth)
		}
	case reflect.Struct:
		d.indent(depth)
		d.w.WriteString(name + ": ")
		d.node(v, depth)
	default:
		if v.IsZero() {
			return
		}
		d.indent(depth)
		d.w.WriteString(name + " " + scalar(v) + "\n")
	}
}

func scalar(v reflect.Value) string {
	switch v.Kind() {
	case reflect.String:
		return strconv.Quote(v.String())
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	}
	return fmt.Sprint(v.Interface())
}
