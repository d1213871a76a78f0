package ast

import "reflect"

// Equal reports whether a and b are the same file apart from positions: it
// compares every grammar field, the file name and the text of every comment
// in order, and ignores all lexer.Position fields (Pos, EndPos, brackets).
// A nil slice equals an empty one.
func Equal(a, b *File) bool {
	return EqualNodes(a, b)
}

// EqualNodes is Equal for any two nodes of this package (pointers to the
// same node type), such as two *Expr.
func EqualNodes(a, b any) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	if !va.IsValid() || !vb.IsValid() {
		return va.IsValid() == vb.IsValid()
	}
	if va.Type() != vb.Type() {
		return false
	}
	return equalValues(va, vb)
}

func equalValues(a, b reflect.Value) bool {
	if a.Type() == positionType {
		return true
	}
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return equalValues(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			if !equalValues(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice:
		if a.Len() != b.Len() {
			return false
		}
		for i := 0; i < a.Len(); i++ {
			if !equalValues(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.String:
		return a.String() == b.String()
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	}
	panic("ast.Equal: unexpected field kind " + a.Kind().String())
}
