package eval

import (
	"fmt"

	"github.com/bfcdev/bfc/compiler/ir"
	"github.com/bfcdev/bfc/runtime/kernels"
	"github.com/bfcdev/bfc/runtime/moe"
	"github.com/bfcdev/bfc/runtime/tensor"
)

// Machine runs one program on one batch shape. Every value has its own
// buffer (no reuse), so any value can be read after a run.
type Machine[F kernels.Float] struct {
	p          *ir.Program
	batch, seq int
	t          int // batch*seq

	f   [][]F     // float buffers by value ID
	ids [][]int32 // int32 buffers by value ID

	grads []*ir.Value // every gradient buffer, zeroed by Backward
	loss  float64     // the cross-entropy that last wrote p.Loss, in float64

	// ws holds a workspace per moe layer, by MoEAttrs.Workspace; names
	// their layers.
	ws    []*moe.Workspace[F]
	names []string
}

// MoEConfig returns the runtime configuration of a moe layer with
// attributes a on a stream d wide, for runs of up to maxBatch sequences of
// maxSeq tokens, validated.
func MoEConfig(a *ir.MoEAttrs, d, maxBatch, maxSeq int) (moe.Config, error) {
	act, ok := kernels.ParseAct(a.Act)
	if !ok {
		return moe.Config{}, fmt.Errorf("%s: unknown activation %q", a.Name, a.Act)
	}
	rule, ok := moe.ParseRule(a.Rule)
	if !ok {
		return moe.Config{}, fmt.Errorf("%s: unknown routing rule %q", a.Name, a.Rule)
	}
	group, ok := moe.ParseGroup(a.Group)
	if !ok {
		return moe.Config{}, fmt.Errorf("%s: unknown routing group %q", a.Name, a.Group)
	}
	c := moe.Config{
		Experts: a.Experts, D: d, Hidden: a.Hidden, Act: act, Gated: a.Gated,
		Rule: rule, Capacity: a.Capacity, Group: group, K: a.K,
		AuxWeight: a.AuxWeight, ZWeight: a.ZWeight, Fill: a.Fill, Causal: a.Causal,
		MaxBatch: maxBatch, MaxSeq: maxSeq,
	}
	if err := c.Validate(); err != nil {
		return moe.Config{}, fmt.Errorf("%s: %w", a.Name, err)
	}
	return c, nil
}

// New allocates every value of p for batch sequences of seq tokens (value
// rows that are multiples of T get batch*seq rows). batch and seq must not
// exceed the program's maxima (when it has them).
func New[F kernels.Float](p *ir.Program, batch, seq int) *Machine[F] {
	if batch <= 0 || seq <= 0 || (p.MaxBatch > 0 && batch > p.MaxBatch) || (p.MaxSeq > 0 && seq > p.MaxSeq) {
		panic(fmt.Sprintf("eval.New: batch=%d seq=%d, want 1..%d and 1..%d", batch, seq, p.MaxBatch, p.MaxSeq))
	}
	m := &Machine[F]{p: p, batch: batch, seq: seq, t: batch * seq}
	m.f = make([][]F, len(p.Values))
	m.ids = make([][]int32, len(p.Values))
	for _, v := range p.Values {
		n := m.Rows(v) * v.Cols
		if v.DType == ir.Int32 {
			m.ids[v.ID] = make([]int32, n)
		} else {
			m.f[v.ID] = make([]F, n)
		}
		if v.GradOf != nil {
			m.grads = append(m.grads, v)
		}
	}
	// Moe layers are configured for the program's maxima (a fragment
	// without them: for this machine's shape).
	maxBatch, maxSeq := p.MaxBatch, p.MaxSeq
	if maxBatch <= 0 || maxSeq <= 0 {
		maxBatch, maxSeq = batch, seq
	}
	for i, in := range p.MoE() {
		a := in.Attrs.MoE
		if a.Workspace != i {
			panic(fmt.Sprintf("eval.New: moe layer %d (%s) has workspace %d", i, a.Name, a.Workspace))
		}
		c, err := MoEConfig(a, in.Args[0].Cols, maxBatch, maxSeq)
		if err != nil {
			panic("eval.New: " + err.Error())
		}
		m.ws = append(m.ws, moe.NewWorkspace[F](c))
		m.names = append(m.names, a.Name)
	}
	return m
}

// RoutingStats returns the routing statistics of every moe layer, in
// order, as the last run through it left them.
func (m *Machine[F]) RoutingStats() []moe.LayerStats {
	out := make([]moe.LayerStats, len(m.ws))
	for i, ws := range m.ws {
		out[i] = moe.LayerStats{Name: m.names[i], Stats: ws.Stats()}
	}
	return out
}

// Program returns the program m runs.
func (m *Machine[F]) Program() *ir.Program { return m.p }

// Rows returns the number of rows of v in m.
func (m *Machine[F]) Rows(v *ir.Value) int {
	if v.Rows.Tokens {
		return m.t
	}
	return v.Rows.N
}

// Get returns v's buffer (not a copy): float values only.
func (m *Machine[F]) Get(v *ir.Value) []F {
	if v.DType != ir.Float {
		panic(fmt.Sprintf("eval: Get of %s, a %v value", v.Name, v.DType))
	}
	return m.f[v.ID]
}

// Set copies data into v's buffer; len(data) must be its size.
func (m *Machine[F]) Set(v *ir.Value, data []F) {
	b := m.Get(v)
	if len(data) != len(b) {
		panic(fmt.Sprintf("eval: Set of %s with %d elements, want %d", v.Name, len(data), len(b)))
	}
	copy(b, data)
}

// SetTokens sets the token ids and the targets (-1 ignores a position).
// targets may be nil for inference.
func (m *Machine[F]) SetTokens(tokens, targets []int32) {
	if m.p.Tokens == nil {
		panic("eval: the program has no tokens")
	}
	m.SetIDs(m.p.Tokens, tokens)
	if targets != nil {
		if m.p.Targets == nil {
			panic("eval: the program has no targets")
		}
		m.SetIDs(m.p.Targets, targets)
	}
}

// IDs returns the buffer of v, an i32 value (not a copy).
func (m *Machine[F]) IDs(v *ir.Value) []int32 {
	if v.DType != ir.Int32 {
		panic(fmt.Sprintf("eval: IDs of %s, a %v value", v.Name, v.DType))
	}
	return m.ids[v.ID]
}

// SetIDs copies data into the buffer of v, an i32 value.
func (m *Machine[F]) SetIDs(v *ir.Value, data []int32) {
	if v.DType != ir.Int32 {
		panic(fmt.Sprintf("eval: SetIDs of %s, a %v value", v.Name, v.DType))
	}
	if len(data) != len(m.ids[v.ID]) {
		panic(fmt.Sprintf("eval: SetIDs of %s with %d elements, want %d", v.Name, len(data), len(m.ids[v.ID])))
	}
	copy(m.ids[v.ID], data)
}

// InitParams initialises every parameter from its Init, drawing from one
// generator seeded with seed, in parameter order.
func (m *Machine[F]) InitParams(seed uint64) {
	r := tensor.NewRNG(seed)
	for _, v := range m.p.Params {
		x := m.f[v.ID]
		switch v.Init.Kind {
		case "normal":
			tensor.InitNormal(x, v.Init.Std, r)
		case "ones":
			tensor.InitOnes(x)
		case "zeros":
			tensor.InitZeros(x)
		default:
			panic(fmt.Sprintf("eval: param %s: unknown init %q", v.Name, v.Init.Kind))
		}
	}
}

// Forward runs every forward instruction and returns the loss (its first
// element, for a fragment whose loss is not a scalar).
func (m *Machine[F]) Forward() float64 {
	m.Run(m.p.Forward)
	if m.p.Loss == nil {
		return 0
	}
	if in := m.lossInstr(); in != nil && in.Op == ir.OpCrossEntropy {
		return m.loss
	}
	return float64(m.f[m.p.Loss.ID][0])
}

func (m *Machine[F]) lossInstr() *ir.Instr {
	for i := len(m.p.Forward) - 1; i >= 0; i-- {
		for _, o := range m.p.Forward[i].Outs {
			if o == m.p.Loss {
				return m.p.Forward[i]
			}
		}
	}
	return nil
}

// Infer runs the first NInfer forward instructions, which end at Logits.
func (m *Machine[F]) Infer() { m.Run(m.p.Forward[:m.p.NInfer]) }

// Backward zeroes every gradient, sets DLoss to 1 and runs the backward
// instructions. Forward must have run.
func (m *Machine[F]) Backward() {
	m.ZeroGrads()
	for i := range m.f[m.p.DLoss.ID] {
		m.f[m.p.DLoss.ID][i] = 1
	}
	m.Run(m.p.Backward)
}

// ZeroGrads zeroes every gradient buffer (values with GradOf set).
func (m *Machine[F]) ZeroGrads() {
	for _, v := range m.grads {
		kernels.Zero(m.f[v.ID])
	}
}

// Run executes instrs, instructions over the program's values, in order.
// It panics (as the kernels do) on sizes that do not fit.
func (m *Machine[F]) Run(instrs []*ir.Instr) {
	for _, in := range instrs {
		m.exec(in)
	}
}

func (m *Machine[F]) exec(in *ir.Instr) {
	var act kernels.Act
	if in.Attrs.Act != "" {
		var ok bool
		if act, ok = kernels.ParseAct(in.Attrs.Act); !ok {
			panic(fmt.Sprintf("eval: %v: unknown activation %q", in.Op, in.Attrs.Act))
		}
	}
	a, o := in.Args, in.Outs
	f := func(v *ir.Value) []F { return m.f[v.ID] }
	ids := func(v *ir.Value) []int32 { return m.ids[v.ID] }
	rows := func(v *ir.Value) int { return m.Rows(v) }
	at := in.Attrs
	switch in.Op {
	case ir.OpEmbed:
		kernels.Embed(f(o[0]), f(a[1]), ids(a[0]), a[1].Cols)
	case ir.OpAddPos:
		kernels.AddPosEmbed(f(o[0]), f(a[0]), f(a[1]), m.batch, m.seq, a[0].Cols)
	case ir.OpMatMul:
		rm, k := rows(a[0]), a[0].Cols
		if at.TransA {
			rm, k = k, rm
		}
		n := a[1].Cols
		if at.TransB {
			n = rows(a[1])
		}
		var beta F
		if at.Acc {
			beta = 1
		}
		kernels.Gemm(at.TransA, at.TransB, rm, n, k, 1, f(a[0]), a[0].Cols, f(a[1]), a[1].Cols, beta, f(o[0]), n)
	case ir.OpRMSNorm:
		kernels.RMSNorm(f(o[0]), f(o[1]), f(a[0]), f(a[1]), rows(a[0]), a[0].Cols, F(at.Eps))
	case ir.OpLayerNorm:
		kernels.LayerNorm(f(o[0]), f(o[1]), f(o[2]), f(a[0]), f(a[1]), f(a[2]), rows(a[0]), a[0].Cols, F(at.Eps))
	case ir.OpAttention:
		kernels.Attention(f(o[0]), f(o[1]), f(a[0]), m.batch, m.seq, at.Heads, at.HeadDim, at.Causal)
	case ir.OpAct:
		kernels.Activate(act, f(o[0]), f(a[0]))
	case ir.OpGLU:
		kernels.GLU(act, f(o[0]), f(a[0]), rows(a[0]), a[0].Cols/2)
	case ir.OpAdd:
		kernels.Add(f(o[0]), f(a[0]), f(a[1]))
	case ir.OpCrossEntropy:
		l := kernels.CrossEntropy(f(o[1]), f(a[0]), ids(a[1]), rows(a[0]), a[0].Cols)
		f(o[0])[0] = F(l)
		if o[0] == m.p.Loss {
			m.loss = l
		}

	case ir.OpEmbedGrad:
		kernels.EmbedBackward(f(o[0]), f(a[0]), ids(a[1]), a[0].Cols)
	case ir.OpAddPosGrad:
		kernels.AddPosEmbedBackward(f(o[0]), f(a[0]), m.batch, m.seq, a[0].Cols)
	case ir.OpRMSNormGrad:
		kernels.RMSNormBackward(f(o[0]), f(o[1]), f(a[0]), f(a[1]), f(a[2]), f(a[3]), rows(a[1]), a[1].Cols)
	case ir.OpLayerNormGrad:
		kernels.LayerNormBackward(f(o[0]), f(o[1]), f(o[2]), f(a[0]), f(a[1]), f(a[2]), f(a[3]), f(a[4]), rows(a[1]), a[1].Cols)
	case ir.OpAttentionGrad:
		kernels.AttentionBackward(f(o[0]), f(a[0]), f(a[1]), f(a[2]), f(a[3]), m.batch, m.seq, at.Heads, at.HeadDim, at.Causal)
	case ir.OpActGrad:
		kernels.ActivateBackward(act, f(o[0]), f(a[0]), f(a[1]))
	case ir.OpGLUGrad:
		kernels.GLUBackward(act, f(o[0]), f(a[0]), f(a[1]), rows(a[1]), a[1].Cols/2)
	case ir.OpAccum:
		kernels.AddTo(f(o[0]), f(a[0]))
	case ir.OpCrossEntropyGrad:
		kernels.CrossEntropyBackward(f(o[0]), f(a[1]), f(a[2]), ids(a[3]), rows(a[1]), a[1].Cols, f(a[0])[0])
	case ir.OpMoE:
		aux, err := moe.Forward(m.ws[at.MoE.Workspace], f(o[0]), f(a[0]), f(a[1]), f(a[2]), f(a[3]), m.batch, m.seq)
		if err != nil {
			panic(fmt.Sprintf("eval: %s: %v", at.MoE.Name, err))
		}
		f(o[1])[0] = F(aux)
	case ir.OpMoEGrad:
		moe.Backward(m.ws[at.MoE.Workspace], f(o[0]), f(o[1]), f(o[2]), f(o[3]), f(a[0]), f(a[1])[0], f(a[2]), f(a[3]), f(a[4]), f(a[5]))
	default:
		panic(fmt.Sprintf("eval: no kernel for %v", in.Op))
	}
}
