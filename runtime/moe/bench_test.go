package moe

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/bfcdev/bfc/runtime/kernels"
)

// BenchmarkLayer times a float32 Forward + BackwardSet (as generated code
// runs the layer) and reports the expert matmul throughput (6 flops per
// weight per assignment). ReLU keeps
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
				BackwardSet(ws, dx, dwg, dw1, dw2, dy, 1, x, wg, w1, w2)
				slots = ws.slots
			}
			flops := 6 * float64(slots) * float64(c.D*(c.H1()+c.Hidden))
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkExpertsScaling shows the layer's time against the number of
// experts at fixed capacity: float32, T = 2048 tokens (batch 8 × seq 256),
// D 256, Hidden 1024, expert choice with capacity 2 over group batch, so
// each of the E experts takes k = 2048·2/E tokens and the expert matmuls
// do the same 4096·D·2·Hidden·2 flops forward (three times that forward +
// backward) for every E. It reports the expert matmul throughput, the time
// in ms and, when E = 4 ran first in the same run, the time relative to it
// (x_E4; with -count n, relative to the last E = 4 run).
//
// It runs at T = 2048 tokens (the reference block's MoE) and T = 8192.
// The flops are constant but the parameters are not: E·2·D·Hidden floats,
// 8 MB at E = 4 and 128 MB at E = 64, and each weight serves only k tokens
// (64 at E = 64 and T = 2048, 256 at T = 8192). So at large E every
// expert matmul streams its weights (and, backward, its gradients) from
// memory for few rows: kernels.GemmStreamB reads them in place with an
// L2 prefetch instead of packing them, which is what keeps E = 64 close
// to E = 4.
func BenchmarkExpertsScaling(b *testing.B) {
	const seq, d, hidden = 256, 256, 1024
	experts := []int{4, 8, 16, 32, 64}
	for _, batch := range []int{8, 32} {
		for _, pass := range []string{"forward", "forward+backward"} {
			bwd := pass != "forward"
			var base float64 // ns/op at E = 4
			for _, e := range experts {
				c := Config{Experts: e, D: d, Hidden: hidden, Act: kernels.ActReLU, Rule: ExpertChoice, Capacity: 2,
					Group: GroupBatch, MaxBatch: batch, MaxSeq: seq}
				b.Run(fmt.Sprintf("T%d/%s/E%d", batch*seq, pass, e), func(b *testing.B) {
					r := rand.New(rand.NewPCG(1, 2))
					p := newParams(r, c, batch, seq)
					x, wg, w1, w2 := conv[float32](p.x), conv[float32](p.wg), conv[float32](p.w1), conv[float32](p.w2)
					y, dy := make([]float32, len(x)), conv[float32](randVec(r, len(x), 1))
					dx, dwg, dw1, dw2 := make([]float32, len(x)), make([]float32, len(wg)), make([]float32, len(w1)), make([]float32, len(w2))
					ws := NewWorkspace[float32](c)
					if bwd { // the first Backward allocates its scratch
						if _, err := Forward(ws, y, x, wg, w1, w2, batch, seq); err != nil {
							b.Fatal(err)
						}
						BackwardSet(ws, dx, dwg, dw1, dw2, dy, 1, x, wg, w1, w2)
					}
					for b.Loop() {
						if _, err := Forward(ws, y, x, wg, w1, w2, batch, seq); err != nil {
							b.Fatal(err)
						}
						if bwd {
							BackwardSet(ws, dx, dwg, dw1, dw2, dy, 1, x, wg, w1, w2)
						}
					}
					if want := batch * seq * 2; ws.slots != want {
						b.Fatalf("%d slots, want %d", ws.slots, want)
					}
					flops := 2 * float64(ws.slots) * float64(d*(c.H1()+c.Hidden))
					if bwd {
						flops *= 3
					}
					ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
					b.ReportMetric(flops/ns, "GFLOP/s")
					b.ReportMetric(ns/1e6, "ms")
					if e == experts[0] {
						base = ns
					} else if base > 0 {
						b.ReportMetric(ns/base, "x_E4")
					}
				})
			}
		}
	}
}

// BenchmarkExpertsFlat is BenchmarkExpertsScaling made robust to a
// shared machine: each iteration runs the layer once for every E in turn
// (the same layers as BenchmarkExpertsScaling), and it reports, per E, the
// best time over the iterations relative to E = 4's best (E8_x_E4 ...
// E64_x_E4), so that a slow spell of the machine hits every E alike
// instead of whichever one ran during it. Use -benchtime 5x or more. The
// bf16 runs are the same layers with the expert products in bf16
// precision (Config.BF16, on kernels.BF16Impl()).
func BenchmarkExpertsFlat(b *testing.B) {
	const seq, d, hidden = 256, 256, 1024
	experts := []int{4, 8, 16, 32, 64}
	for _, prec := range []string{"float32", "bf16"} {
		for _, batch := range []int{8, 32} {
			for _, pass := range []string{"forward", "forward+backward"} {
				bwd := pass != "forward"
				b.Run(fmt.Sprintf("%s/T%d/%s", prec, batch*seq, pass), func(b *testing.B) {
					type layer struct {
						ws                *Workspace[float32]
						x, wg, w1, w2     []float32
						y, dy             []float32
						dx, dwg, dw1, dw2 []float32
						best              time.Duration
					}
					var ls []*layer
					for _, e := range experts {
						c := Config{Experts: e, D: d, Hidden: hidden, Act: kernels.ActReLU, Rule: ExpertChoice, Capacity: 2,
							Group: GroupBatch, MaxBatch: batch, MaxSeq: seq, BF16: prec == "bf16"}
						r := rand.New(rand.NewPCG(1, 2))
						p := newParams(r, c, batch, seq)
						l := &layer{ws: NewWorkspace[float32](c)}
						l.x, l.wg, l.w1, l.w2 = conv[float32](p.x), conv[float32](p.wg), conv[float32](p.w1), conv[float32](p.w2)
						l.y, l.dy = make([]float32, len(l.x)), conv[float32](randVec(r, len(l.x), 1))
						l.dx, l.dwg, l.dw1, l.dw2 = make([]float32, len(l.x)), make([]float32, len(l.wg)), make([]float32, len(l.w1)), make([]float32, len(l.w2))
						ls = append(ls, l)
					}
					run := func(l *layer) {
						if _, err := Forward(l.ws, l.y, l.x, l.wg, l.w1, l.w2, batch, seq); err != nil {
							b.Fatal(err)
						}
						if bwd {
							BackwardSet(l.ws, l.dx, l.dwg, l.dw1, l.dw2, l.dy, 1, l.x, l.wg, l.w1, l.w2)
						}
					}
					for _, l := range ls { // warm-up; the first Backward allocates its scratch
						run(l)
					}
					for b.Loop() {
						for _, l := range ls {
							t0 := time.Now()
							run(l)
							if dt := time.Since(t0); l.best == 0 || dt < l.best {
								l.best = dt
							}
						}
					}
					b.ReportMetric(float64(ls[0].best.Nanoseconds())/1e6, "E4_ms")
					for i, l := range ls[1:] {
						b.ReportMetric(float64(l.best)/float64(ls[0].best), fmt.Sprintf("E%d_x_E4", experts[i+1]))
					}
				})
			}
		}
	}
}

// BenchmarkSelect times expert choice's selection alone: each of E experts
// picks its k = T·2/E best tokens of one group of T = 2048.
func BenchmarkSelect(b *testing.B) {
	const batch, seq = 8, 256
	for _, e := range []int{8, 64} {
		c := Config{Experts: e, D: 4, Hidden: 4, Act: kernels.ActReLU, Rule: ExpertChoice, Capacity: 2,
			Group: GroupBatch, MaxBatch: batch, MaxSeq: seq}
		b.Run(fmt.Sprintf("E%d", e), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			ws := NewWorkspace[float32](c)
			ws.batch, ws.seq, ws.t = batch, seq, batch*seq
			ws.groups, ws.n = c.GroupShape(batch, seq)
			ws.capac = c.ExpertCapacity(ws.n)
			for i := range e + 1 {
				ws.expOff[i] = int32(i * ws.groups * ws.capac)
			}
			for i := range ws.probs {
				ws.probs[i] = float32(r.Float64() / float64(e))
			}
			for b.Loop() {
				for ex := range e {
					ws.selectTokens(0, ex)
				}
			}
		})
	}
}
