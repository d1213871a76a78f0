package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// Tensor is one named tensor: its dtype ("F32", "F64", "I32" or "I64"),
// shape and little-endian bytes.
type Tensor struct {
	Name  string
	DType string
	Shape []int
	Data  []byte
}

// dtypeSize returns the element size of a supported dtype.
func dtypeSize(dtype string) (int, bool) {
	switch dtype {
	case "F32", "I32":
		return 4, true
	case "F64", "I64":
		return 8, true
	}
	return 0, false
}

// numel returns the product of shape, or false if a dimension is negative
// or the product exceeds limit.
func numel(shape []int, limit int64) (int64, bool) {
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
	}
	if slices.Contains(shape, 0) {
		return 0, true
	}
	n := int64(1)
	for _, d := range shape {
		if n > limit/int64(d) {
			return 0, false
		}
		n *= int64(d)
	}
	return n, true
}

// FromFloat32 encodes x as an F32 tensor.
func FromFloat32(name string, shape []int, x []float32) Tensor {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return Tensor{Name: name, DType: "F32", Shape: cloneShape(shape), Data: b}
}

// FromFloat64 encodes x as an F64 tensor.
func FromFloat64(name string, shape []int, x []float64) Tensor {
	b := make([]byte, 8*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(v))
	}
	return Tensor{Name: name, DType: "F64", Shape: cloneShape(shape), Data: b}
}

// FromInt32 encodes x as an I32 tensor.
func FromInt32(name string, shape []int, x []int32) Tensor {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
	}
	return Tensor{Name: name, DType: "I32", Shape: cloneShape(shape), Data: b}
}

// FromInt64 encodes x as an I64 tensor.
func FromInt64(name string, shape []int, x []int64) Tensor {
	b := make([]byte, 8*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	return Tensor{Name: name, DType: "I64", Shape: cloneShape(shape), Data: b}
}

// check returns an error unless t's dtype is want and its data matches its
// shape.
func (t Tensor) check(want string) error {
	if t.DType != want {
		return fmt.Errorf("safetensors: tensor %q has dtype %s, not %s", t.Name, t.DType, want)
	}
	return t.validate()
}

// validate checks the dtype and that len(Data) matches the shape.
func (t Tensor) validate() error {
	size, ok := dtypeSize(t.DType)
	if !ok {
		return fmt.Errorf("safetensors: tensor %q: unknown dtype %q", t.Name, t.DType)
	}
	n, ok := numel(t.Shape, math.MaxInt64/8)
	if !ok {
		return fmt.Errorf("safetensors: tensor %q: invalid shape %v", t.Name, t.Shape)
	}
	if int64(len(t.Data)) != n*int64(size) {
		return fmt.Errorf("safetensors: tensor %q: shape %v of %s needs %d bytes, has %d", t.Name, t.Shape, t.DType, n*int64(size), len(t.Data))
	}
	return nil
}

// Float32 decodes an F32 tensor.
func (t Tensor) Float32() ([]float32, error) {
	if err := t.check("F32"); err != nil {
		return nil, err
	}
	x := make([]float32, len(t.Data)/4)
	for i := range x {
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return x, nil
}

// Float64 decodes an F64 tensor.
func (t Tensor) Float64() ([]float64, error) {
	if err := t.check("F64"); err != nil {
		return nil, err
	}
	x := make([]float64, len(t.Data)/8)
	for i := range x {
		x[i] = math.Float64frombits(binary.LittleEndian.Uint64(t.Data[8*i:]))
	}
	return x, nil
}

// Int32 decodes an I32 tensor.
func (t Tensor) Int32() ([]int32, error) {
	if err := t.check("I32"); err != nil {
		return nil, err
	}
	x := make([]int32, len(t.Data)/4)
	for i := range x {
		x[i] = int32(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return x, nil
}

// Int64 decodes an I64 tensor.
func (t Tensor) Int64() ([]int64, error) {
	if err := t.check("I64"); err != nil {
		return nil, err
	}
	x := make([]int64, len(t.Data)/8)
	for i := range x {
		x[i] = int64(binary.LittleEndian.Uint64(t.Data[8*i:]))
	}
	return x, nil
}

// cloneShape copies shape; a scalar's shape is empty, never nil.
func cloneShape(shape []int) []int {
	s := make([]int, len(shape))
	copy(s, shape)
	return s
}
