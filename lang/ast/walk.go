package ast

import (
	"reflect"

	"github.com/alecthomas/participle/v2/lexer"
)

var positionType = reflect.TypeFor[lexer.Position]()

// Inspect visits node and, when f returns true, its children in source
// order, depth first. Nodes are the non-nil pointers to the structs of this
// package (*File, *Decl, *Call, ...); Comments are visited too. node may be
// any such pointer.
func Inspect(node any, f func(node any) bool) {
	v := reflect.ValueOf(node)
	if !v.IsValid() || v.Kind() != reflect.Pointer || v.IsNil() {
		return
	}
	inspect(v, f)
}

func inspect(v reflect.Value, f func(node any) bool) {
	if !f(v.Interface()) {
		return
	}
	s := v.Elem()
	for i := 0; i < s.NumField(); i++ {
		fv := s.Field(i)
		switch fv.Kind() {
		case reflect.Pointer:
			if !fv.IsNil() && fv.Elem().Kind() == reflect.Struct && fv.Type().Elem() != positionType {
				inspect(fv, f)
			}
		case reflect.Slice:
			for j := 0; j < fv.Len(); j++ {
				e := fv.Index(j)
				if e.Kind() == reflect.Pointer && !e.IsNil() && e.Elem().Kind() == reflect.Struct {
					inspect(e, f)
				}
			}
		}
	}
}
