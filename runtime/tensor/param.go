package tensor

import (
	"fmt"

	"github.com/bfcdev/bfc/runtime/kernels"
)

// Float is the element type of parameters.
type Float = kernels.Float

// Param is a named trainable tensor and its gradient, both row-major with
// Numel(Shape) elements. Decay says whether weight decay applies (false for
// norm gains and biases).
type Param[F Float] struct {
	Name  string
	Shape []int
	Data  []F
	Grad  []F
	Decay bool
}

// NewParam returns a zeroed parameter with its gradient buffer.
func NewParam[F Float](name string, shape []int, decay bool) Param[F] {
	n := Numel(shape)
	return Param[F]{Name: name, Shape: append([]int(nil), shape...), Data: make([]F, n), Grad: make([]F, n), Decay: decay}
}

// ZeroGrads sets every gradient to 0.
func ZeroGrads[F Float](params []Param[F]) {
	for i := range params {
		clear(params[i].Grad)
	}
}

// Numel returns the number of elements of a tensor of the given shape (1
// for a scalar). It panics on a negative dimension.
func Numel(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("tensor.Numel: negative dimension in %v", shape))
		}
		n *= d
	}
	return n
}

// InitNormal fills x with samples of N(0, std²) drawn from r.
func InitNormal[F Float](x []F, std float64, r *RNG) {
	for i := range x {
		x[i] = F(std * r.NormFloat64())
	}
}

// InitUniform fills x with samples of U[lo, hi) drawn from r.
func InitUniform[F Float](x []F, lo, hi float64, r *RNG) {
	for i := range x {
		x[i] = F(lo + (hi-lo)*r.Float64())
	}
}

// InitOnes sets x to 1.
func InitOnes[F Float](x []F) {
	for i := range x {
		x[i] = 1
	}
}

// InitZeros sets x to 0.
func InitZeros[F Float](x []F) { clear(x) }
