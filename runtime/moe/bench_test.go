package moe

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/bfcdev/bfc/runtime/kernels"
)

// BenchmarkLayer times a float32 Forward + Backward and reports the
// expert matmul throughput (6 flops per weight per assignment). ReLU keeps
// the activation's cost (GELU's erf dominates at these widths) out of the
// way of the matmuls and the routing.
func BenchmarkLayer(b *testing.B) {
	for _, bc := range []struct {
		rule    Rule
		e, d, h int
		gated   bool
		batch   int
		seq     int
	}{
		{ExpertChoice, 8, 256, 512, false, 8, 256},
		{TopK, 8, 256, 512, false, 8, 256},
		{ExpertChoice, 32, 256, 512, true, 8, 256},
		{TopK, 64, 128, 256, false, 16, 128},
	} {
		c := Config{Experts: bc.e, D: bc.d, Hidden: bc.h, Act: kernels.ActReLU, Gated: bc.gated, Rule: bc.rule, K: 2, Capacity: 2,
			Group: GroupSequence, ZWeight: 1e-3, MaxBatch: bc.batch, MaxSeq: bc.seq}
		if bc.rule == TopK {
			c.AuxWeight = 0.01
		}
		b.Run(fmt.Sprintf("%v/E%d/D%d/H%d/gated=%v/T%d", bc.rule, bc.e, bc.d, bc.h, bc.gated, bc.batch*bc.seq), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			p := newParams(r, c, bc.batch, bc.seq)
			x, wg, w1, w2 := conv[float32](p.x), conv[float32](p.wg), conv[float32](p.w1), conv[float32](p.w2)
			y, dy := make([]float32, len(x)), conv[float32](randVec(r, len(x), 1))
			dx, dwg, dw1, dw2 := make([]float32, len(x)), make([]float32, len(wg)), make([]float32, len(w1)), make([]float32, len(w2))
			ws := NewWorkspace[float32](c)
			var slots int
			for b.Loop() {
				if _, err := Forward(ws, y, x, wg, w1, w2, bc.batch, bc.seq); err != nil {
					b.Fatal(err)
				}
				Backward(ws, dx, dwg, dw1, dw2, dy, 1, x, wg, w1, w2)
				slots = ws.slots
			}
			flops := 6 * float64(slots) * float64(c.D*(c.H1()+c.Hidden))
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
