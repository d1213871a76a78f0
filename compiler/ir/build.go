package ir

import (
	"fmt"

	"github.com/bfcdev/bfc/lang/source"
)

// NewParam appends a parameter to the program: a value of kind KindParam
// with static rows, listed in Params. shape is its logical shape, whose
// product must be rows*cols.
func (p *Program) NewParam(name string, shape []int, rows, cols int, init Init, decay bool, pos source.Pos) *Value {
	v := p.NewValue(name, KindParam, Float, Static(rows), cols, pos)
	v.Shape = append([]int(nil), shape...)
	v.Init = init
	v.Decay = decay
	p.Params = append(p.Params, v)
	return v
}

// Builder appends forward instructions to a program, stamping each with the
// current Layer and Pos (on the instruction and on the values it creates).
type Builder struct {
	P     *Program
	Layer string
	Pos   source.Pos
}

// Op appends Outs = op(args) to P.Forward, creating the results as temps
// of the types InferTypes gives. name is a readable hint for the results
// (the second and later get "/1", "/2"... appended).
func (b *Builder) Op(op Op, a Attrs, name string, args ...*Value) ([]*Value, error) {
	types, err := InferTypes(op, a, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %w", b.Layer, op, err)
	}
	outs := make([]*Value, len(types))
	for i, t := range types {
		n := name
		if i > 0 {
			n = fmt.Sprintf("%s/%d", name, i)
		}
		outs[i] = b.P.NewValue(n, KindTemp, t.DType, t.Rows, t.Cols, b.Pos)
	}
	b.P.Forward = append(b.P.Forward, &Instr{Op: op, Args: args, Outs: outs, Attrs: a, Pos: b.Pos, Layer: b.Layer})
	return outs, nil
}
