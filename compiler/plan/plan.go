package plan

import (
	"fmt"
	"slices"
	"sort"

	"github.com/bfcdev/bfc/compiler/ir"
)

// Align is the alignment, in elements, of every offset and slot size in an
// arena (64 bytes of float32), so every value starts on a cache line when the
// arena does.
const Align = 16

// Layout is the storage plan of one program.
type Layout struct {
	// MaxTokens is MaxBatch·MaxSeq: the row count a token-row value is
	// planned for.
	MaxTokens int

	// Params holds every KindParam value, in Program.Params order.
	Params Arena
	// Grads holds every parameter's gradient (KindGrad), in the same order.
	// It is empty when the program has no backward pass.
	Grads Arena

	// Train holds the temporaries of Forward followed by Backward. Its
	// instruction sequence (for Zero) is Forward then Backward: index
	// len(Forward)+j is Backward[j]. Program.DLoss lives here and is seeded
	// (set to 1) before Backward[0].
	Train Arena
	// Eval holds the temporaries of Forward alone (the loss without a
	// backward pass). Its sequence is Forward.
	Eval Arena
	// Infer holds the temporaries of Forward[:NInfer]. Its sequence is
	// Forward[:NInfer]; Logits stays live to the end.
	Infer Arena

	// Fused[i] (i < len(Forward)) reports that Forward[i] and Forward[i+1]
	// run as one fused kernel (see Fusable). Every arena plans the pair as
	// one instruction, so that no output of either shares memory with an
	// input of either (GemmAct writes the activation while it still reads
	// the matmul's operands), with one sanctioned alias: in an arena where
	// no later instruction reads a fused matmul's product h and h is not a
	// program output (Infer and Eval; in Train act_grad reads h), the
	// activation act(h), of h's size, gets exactly h's offset, and GemmAct
	// runs with out = C, which it allows. Nil when fusion is off.
	Fused []bool
}

// Options configure PlanWith.
type Options struct {
	// NoFusion plans every instruction as its own kernel.
	NoFusion bool
}

// Arena is a flat buffer of elements and the values placed in it.
type Arena struct {
	// Size is the arena's length in elements (a multiple of Align).
	Size int
	// Off maps Value.ID to the value's element offset, or -1 when the
	// value has no slot in this arena.
	Off []int
	// Zero[i] lists the values that must be zeroed before instruction i of
	// the arena's instruction sequence: values whose first access is a write
	// by an accumulating instruction. Slots are reused and arenas persist
	// between runs, so such a slot holds stale data otherwise. Nil for the
	// parameter and gradient arenas.
	Zero [][]*ir.Value
}

// Has reports whether v has a slot in a.
func (a *Arena) Has(v *ir.Value) bool { return a.Offset(v) >= 0 }

// Offset returns v's element offset in a, or -1 when v has no slot there.
func (a *Arena) Offset(v *ir.Value) int {
	if v == nil || v.ID < 0 || v.ID >= len(a.Off) {
		return -1
	}
	return a.Off[v.ID]
}

// Elems returns the number of elements planned for v: MaxTokens·Cols for
// token-row values, Rows.N·Cols for static ones.
func (l *Layout) Elems(v *ir.Value) int { return elems(v, l.MaxTokens) }

func elems(v *ir.Value, maxTokens int) int {
	if v.Rows.Tokens {
		return maxTokens * v.Cols
	}
	return v.Rows.N * v.Cols
}

// Accumulates reports whether in adds into its outputs instead of
// overwriting them: every backward op (moe_grad included), and OpMatMul
// with Attrs.Acc.
func Accumulates(in *ir.Instr) bool {
	if in.Op == ir.OpMatMul {
		return in.Attrs.Acc
	}
	return in.Op.IsBackward()
}

func roundUp(n int) int { return (n + Align - 1) / Align * Align }

// Fusable reports whether a and b, consecutive forward instructions, can
// run as one fused kernel, a pair whose first output, a temporary, feeds
// the second:
//
//   - a residual add then the RMSNorm of its sum (kernels.AddRMSNorm
//     computes both in one pass over each row);
//   - a matmul that does not accumulate then an elementwise activation
//     (OpAct) of its product (kernels.GemmAct activates each part of the
//     product in the matmul's epilogue, while it is in cache). A gated
//     activation (OpGLU) is not fused.
//
// The first output (the sum, the product) is still stored, for later
// residuals and the backward pass.
func Fusable(a, b *ir.Instr) bool {
	if len(a.Outs) != 1 || a.Outs[0] == nil || a.Outs[0].Kind != ir.KindTemp {
		return false
	}
	h := a.Outs[0]
	switch {
	case a.Op == ir.OpAdd && b.Op == ir.OpRMSNorm:
		return len(b.Args) == 2 && b.Args[0] == h && b.Args[1] != h
	case a.Op == ir.OpMatMul && b.Op == ir.OpAct:
		return !a.Attrs.Acc && len(b.Args) == 1 && b.Args[0] == h && len(b.Outs) == 1
	}
	return false
}

// Plan assigns every value of p an offset in one of the arenas described by
// Layout, fusing the instruction pairs that Fusable accepts. It fails if p
// is malformed in a way that makes storage ambiguous: values out of place in
// p.Values, temporaries read before they are written, parameters with token
// rows, int32 temporaries.
func Plan(p *ir.Program) (*Layout, error) { return PlanWith(p, Options{}) }

// PlanWith is Plan with options.
func PlanWith(p *ir.Program, opts Options) (*Layout, error) {
	if p == nil {
		return nil, fmt.Errorf("plan: nil program")
	}
	if err := validate(p); err != nil {
		return nil, err
	}
	l := &Layout{MaxTokens: p.MaxBatch * p.MaxSeq}

	// Parameters and their gradients, packed in declaration order.
	l.Params = Arena{Off: noSlots(len(p.Values))}
	l.Grads = Arena{Off: noSlots(len(p.Values))}
	for _, v := range p.Params {
		l.Params.Off[v.ID] = l.Params.Size
		l.Params.Size += roundUp(elems(v, l.MaxTokens))
		if g := v.Grad; g != nil && len(p.Backward) > 0 {
			l.Grads.Off[g.ID] = l.Grads.Size
			l.Grads.Size += roundUp(elems(g, l.MaxTokens))
		}
	}

	nf := len(p.Forward)
	outs := []*ir.Value{p.Logits, p.Loss}
	if !opts.NoFusion {
		l.Fused = make([]bool, nf)
		for i := 0; i+1 < nf; i++ {
			if (i == 0 || !l.Fused[i-1]) && Fusable(p.Forward[i], p.Forward[i+1]) {
				l.Fused[i] = true
			}
		}
	}

	train := make([]*ir.Instr, 0, nf+len(p.Backward))
	train = append(append(train, p.Forward...), p.Backward...)
	var seed *ir.Value
	if len(p.Backward) > 0 {
		seed = p.DLoss
	}
	var err error
	if l.Train, err = planTemps(p, l.MaxTokens, "training", train, l.Fused, seed, nf, outs, nf-1); err != nil {
		return nil, err
	}
	if l.Eval, err = planTemps(p, l.MaxTokens, "evaluation", p.Forward, l.Fused, nil, 0, outs, nf-1); err != nil {
		return nil, err
	}
	infer := p.Forward[:p.NInfer]
	if l.Infer, err = planTemps(p, l.MaxTokens, "inference", infer, l.Fused, nil, 0, []*ir.Value{p.Logits}, len(infer)-1); err != nil {
		return nil, err
	}
	return l, nil
}

func noSlots(n int) []int {
	off := make([]int, n)
	for i := range off {
		off[i] = -1
	}
	return off
}

// validate checks the program invariants the planner relies on beyond
// those of ir.Verify.
func validate(p *ir.Program) error {
	if err := ir.Verify(p); err != nil {
		return fmt.Errorf("plan: model %s: invalid IR: %w", p.Name, err)
	}
	if p.MaxBatch < 1 || p.MaxSeq < 1 {
		return fmt.Errorf("plan: model %s: max batch %d and max seq %d must be positive", p.Name, p.MaxBatch, p.MaxSeq)
	}
	if d := p.DLoss; d != nil && elems(d, 1) != 1 {
		return fmt.Errorf("plan: model %s: the loss seed %s must have one element", p.Name, name(d))
	}
	for _, v := range p.Params {
		if len(p.Backward) > 0 && v.Grad == nil {
			return fmt.Errorf("plan: %s: parameter %s has no gradient but the program has a backward pass", v.Pos, name(v))
		}
	}
	return nil
}

// span is the live range of one temporary over an instruction sequence.
type span struct {
	v           *ir.Value
	first, last int
	size        int // elements, rounded up to Align
	off         int
}

// FusedWithNext reports whether seq[i] runs fused with seq[i+1], given
// the layout's Fused flags (which cover a prefix of seq).
func FusedWithNext(fused []bool, seq []*ir.Instr, i int) bool {
	return i+1 < len(seq) && i < len(fused) && fused[i]
}

// planTemps packs the temporaries accessed by seq into one arena. seed, if
// not nil, is written (by the caller) just before seq[seedAt]. keep values
// stay live at least until keepTo. The second instruction of a fused pair
// counts as the first for liveness, except that a fused activation may be
// placed on the matmul product it reads (see actInPlace).
func planTemps(p *ir.Program, maxTokens int, what string, seq []*ir.Instr, fused []bool, seed *ir.Value, seedAt int, keep []*ir.Value, keepTo int) (Arena, error) {
	a := Arena{Off: noSlots(len(p.Values)), Zero: make([][]*ir.Value, len(seq))}
	live := make([]*span, len(p.Values)) // by ID
	var spans []*span
	touch := func(v *ir.Value, i int) {
		s := live[v.ID]
		if s == nil {
			s = &span{v: v, first: i, size: roundUp(elems(v, maxTokens))}
			live[v.ID] = s
			spans = append(spans, s)
		}
		s.last = i
	}
	for i, in := range seq {
		if seed != nil && i == seedAt {
			touch(seed, i)
		}
		at := i // the time of in, for liveness
		if i > 0 && FusedWithNext(fused, seq, i-1) {
			at = i - 1
		}
		for _, v := range in.Args {
			if v.Kind != ir.KindTemp {
				continue
			}
			if live[v.ID] == nil {
				return Arena{}, fmt.Errorf("plan: %s: %s: %s (in %s) reads %s before any instruction of the %s pass writes it",
					in.Pos, what, in.Op, layer(in), name(v), what)
			}
			touch(v, at)
		}
		for _, v := range in.Outs {
			if v == nil || v.Kind != ir.KindTemp {
				continue
			}
			if live[v.ID] == nil && Accumulates(in) {
				a.Zero[i] = append(a.Zero[i], v)
			}
			touch(v, at)
		}
	}
	kept := map[*ir.Value]bool{}
	for _, v := range keep {
		if v != nil && live[v.ID] != nil {
			kept[v] = true
			if live[v.ID].last < keepTo {
				live[v.ID].last = keepTo
			}
		}
	}
	// A fused matmul and activation whose product h dies at the pair
	// writes the activation over h (GemmAct with out = C): h's span
	// absorbs the activation's, which gets h's offset.
	var inPlace [][2]*ir.Value // {h, act(h)}
	for i := 0; i+1 < len(seq); i++ {
		if !FusedWithNext(fused, seq, i) {
			continue
		}
		h, y, ok := actInPlace(seq[i], seq[i+1], maxTokens)
		if !ok || kept[h] || live[h.ID].last != i {
			continue
		}
		hs, ys := live[h.ID], live[y.ID]
		hs.last = max(hs.last, ys.last)
		spans = slices.DeleteFunc(spans, func(s *span) bool { return s == ys })
		inPlace = append(inPlace, [2]*ir.Value{h, y})
		i++
	}
	a.Size = pack(spans)
	for _, s := range spans {
		a.Off[s.v.ID] = s.off
	}
	for _, hy := range inPlace {
		a.Off[hy[1].ID] = a.Off[hy[0].ID]
	}
	return a, nil
}

// actInPlace reports whether the fused pair first, second (Fusable) is a
// matmul and an activation of its product h whose result y may be placed
// on h: both temporaries of the same number of elements. It returns h and
// y. planTemps places y on h in an arena where no later instruction reads
// h and h is not a program output; that is the one case where a value
// shares memory with another live at the same instruction (see
// Layout.Fused).
func actInPlace(first, second *ir.Instr, maxTokens int) (h, y *ir.Value, ok bool) {
	if first.Op != ir.OpMatMul || second.Op != ir.OpAct || !Fusable(first, second) {
		return nil, nil, false
	}
	h, y = first.Outs[0], second.Outs[0]
	if y == nil || y.Kind != ir.KindTemp || elems(h, maxTokens) != elems(y, maxTokens) {
		return nil, nil, false
	}
	return h, y, true
}

// pack places spans greedily, largest first, each in the smallest gap left
// by the already placed spans whose live ranges overlap its own (best fit),
// and returns the arena size.
func pack(spans []*span) int {
	order := append([]*span(nil), spans...)
	sort.SliceStable(order, func(i, j int) bool {
		a, b := order[i], order[j]
		if a.size != b.size {
			return a.size > b.size
		}
		if a.first != b.first {
			return a.first < b.first
		}
		return a.v.ID < b.v.ID
	})
	var placed, conflicts []*span
	size := 0
	for _, s := range order {
		conflicts = conflicts[:0]
		for _, q := range placed {
			if q.first <= s.last && s.first <= q.last {
				conflicts = append(conflicts, q)
			}
		}
		sort.Slice(conflicts, func(i, j int) bool {
			if conflicts[i].off != conflicts[j].off {
				return conflicts[i].off < conflicts[j].off
			}
			return conflicts[i].v.ID < conflicts[j].v.ID
		})
		best, bestGap := -1, 0
		end := 0 // end of the occupied prefix scanned so far
		for _, q := range conflicts {
			if gap := q.off - end; gap >= s.size && (best < 0 || gap < bestGap) {
				best, bestGap = end, gap
			}
			end = max(end, q.off+q.size)
		}
		if best < 0 {
			best = end
		}
		s.off = best
		size = max(size, s.off+s.size)
		placed = append(placed, s)
	}
	return size
}

func name(v *ir.Value) string {
	if v == nil {
		return "<nil>"
	}
	if v.Name != "" {
		return fmt.Sprintf("%q (v%d)", v.Name, v.ID)
	}
	return fmt.Sprintf("v%d", v.ID)
}

func layer(in *ir.Instr) string {
	if in.Layer != "" {
		return in.Layer
	}
	return "?"
}
