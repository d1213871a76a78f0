package ir

import (
	"github.com/bfcdev/bfc/lang/source"
)

// Op is an IR operation. Each maps to one runtime kernel call.
type Op int

// Forward operations (differentiable: autodiff has a rule for each).
const (
	OpInvalid Op = iota

	// OpEmbed: Outs[0][T,d] = table[tokens[t],:]. Args: tokens (input, int32 [T,1]), table (param [V,d]).
	OpEmbed
	// OpAddPos: Outs[0][b,s,:] = x[b,s,:] + pos[s,:]. Args: x [T,d], pos (param [MaxSeq,d]).
	OpAddPos
	// OpMatMul: Outs[0] = op(A)·op(B) (+ Outs[0] when Acc). Args: A, B.
	// Attrs TransA, TransB. Forward uses x[T,k]·W[k,n]; a tied head uses
	// x[T,d]·E[V,d]ᵀ (TransB).
	OpMatMul
	// OpRMSNorm: Outs = y [T,d], rstd [T,1]. Args: x, g [1,d]. Attr Eps.
	OpRMSNorm
	// OpLayerNorm: Outs = y, mean [T,1], rstd [T,1]. Args: x, g [1,d], b [1,d]. Attr Eps.
	OpLayerNorm
	// OpAttention: Outs = y [T,H*Dh], lse [T,H]. Args: qkv [T,3*H*Dh].
	// Attrs Heads, HeadDim, Causal.
	OpAttention
	// OpAct: Outs[0] = act(x). Args: x. Attr Act.
	OpAct
	// OpGLU: Outs[0][T,h] = act(x[:, :h]) * x[:, h:]. Args: x [T,2h]. Attr Act.
	OpGLU
	// OpAdd: Outs[0] = a + b. Args: a, b.
	OpAdd
	// OpCrossEntropy: Outs = loss [1,1] (mean over rows with target >= 0),
	// lse [T,1]. Args: logits [T,V], targets (input, int32 [T,1]).
	OpCrossEntropy

	// Backward operations: emitted by autodiff; they have no rule of their
	// own. All of them accumulate (+=) into their outputs.

	// OpEmbedGrad: Outs[0] (dtable) += scatter of dy by tokens. Args: dy, tokens.
	OpEmbedGrad
	// OpAddPosGrad: Outs[0] (dpos) += Σ_b dy[b,s,:]. Args: dy.
	OpAddPosGrad
	// OpRMSNormGrad: Outs = dx, dg. Args: dy, x, g, rstd.
	OpRMSNormGrad
	// OpLayerNormGrad: Outs = dx, dg, db. Args: dy, x, g, mean, rstd.
	OpLayerNormGrad
	// OpAttentionGrad: Outs = dqkv. Args: dy, qkv, y, lse. Attrs as OpAttention.
	OpAttentionGrad
	// OpActGrad: Outs = dx. Args: dy, x. Attr Act.
	OpActGrad
	// OpGLUGrad: Outs = dx. Args: dy, x. Attr Act.
	OpGLUGrad
	// OpAccum: Outs[0] += Args[0].
	OpAccum
	// OpCrossEntropyGrad: Outs = dlogits. Args: dloss [1,1], logits, lse, targets.
	OpCrossEntropyGrad

	numOps
)

var opNames = [...]string{
	OpInvalid:          "invalid",
	OpEmbed:            "embed",
	OpAddPos:           "addpos",
	OpMatMul:           "matmul",
	OpRMSNorm:          "rmsnorm",
	OpLayerNorm:        "layernorm",
	OpAttention:        "attention",
	OpAct:              "act",
	OpGLU:              "glu",
	OpAdd:              "add",
	OpCrossEntropy:     "cross_entropy",
	OpEmbedGrad:        "embed_grad",
	OpAddPosGrad:       "addpos_grad",
	OpRMSNormGrad:      "rmsnorm_grad",
	OpLayerNormGrad:    "layernorm_grad",
	OpAttentionGrad:    "attention_grad",
	OpActGrad:          "act_grad",
	OpGLUGrad:          "glu_grad",
	OpAccum:            "accum",
	OpCrossEntropyGrad: "cross_entropy_grad",
}

func (o Op) String() string {
	if o >= 0 && int(o) < len(opNames) && opNames[o] != "" {
		return opNames[o]
	}
	return "op?"
}

// Ops lists every valid op, in declaration order.
func Ops() []Op {
	out := make([]Op, 0, numOps-1)
	for o := OpInvalid + 1; o < numOps; o++ {
		out = append(out, o)
	}
	return out
}

// DType is the element type of a value.
type DType int

const (
	Float DType = iota // the model's float type (float32, or float64 in gradient checks)
	Int32              // token ids and targets
)

// Kind says where a value's storage lives.
type Kind int

const (
	KindInput Kind = iota // a run-time argument (tokens, targets)
	KindParam             // a trainable parameter
	KindGrad              // the gradient of a parameter
	KindTemp              // an activation or its gradient, planned in the arena
)

// Rows is the row count of a value: static, or a multiple of the token count T.
type Rows struct {
	Tokens bool // true: Mult·T rows (Mult 1 unless stated); false: N rows
	N      int
}

// TokenRows is the common Rows{Tokens: true}.
var TokenRows = Rows{Tokens: true}

// Static returns static rows.
func Static(n int) Rows { return Rows{N: n} }

// Init says how a parameter is initialised.
type Init struct {
	Kind string  // "normal", "ones", "zeros"
	Std  float64 // for "normal"
}

// Value is a 2-D tensor in the program.
type Value struct {
	ID    int
	Name  string // params: the checkpoint name, e.g. "blocks.0.attn.qkv"; temps: a readable hint
	Kind  Kind
	DType DType
	Rows  Rows
	Cols  int
	Pos   source.Pos // the .bf construct this value comes from

	// Params only.
	Shape []int // the parameter's logical shape (for checkpoints), product = rows*cols
	Init  Init
	Decay bool   // weight decay applies
	Grad  *Value // its gradient (KindGrad), set by autodiff; autodiff also sets it on every other value that gets a gradient

	// GradOf is set on gradient values (KindGrad, and the KindTemp
	// gradients of activations): the value this is the gradient of. The
	// caller zeroes every such value before running Backward.
	GradOf *Value
}

// Attrs are the attributes of an instruction. Only the ones an op documents
// are meaningful.
type Attrs struct {
	TransA, TransB bool
	Acc            bool // outputs accumulate (+=) rather than overwrite
	Eps            float64
	Heads, HeadDim int
	Causal         bool
	Act            string // relu, gelu, gelu_tanh, sqrelu, silu
}

// Instr is one operation: Outs = Op(Args).
type Instr struct {
	Op    Op
	Args  []*Value
	Outs  []*Value
	Attrs Attrs
	Pos   source.Pos
	// Layer is the dotted name of the sub-layer this instruction implements
	// (e.g. "blocks.0.attn"); used for diagnostics, NaN reports and profiles.
	Layer string
}

// Const is a named model constant emitted into generated code.
type Const struct {
	Name string
	Type string // dim, int, real, bool
	Int  int64
	Real float64
	Bool bool
	Pos  source.Pos
}

// Program is a whole model in IR.
type Program struct {
	Name     string // model name
	Consts   []Const
	MaxBatch int
	MaxSeq   int
	Vocab    int
	D        int

	Values  []*Value // every value; Values[i].ID == i
	Params  []*Value // in declaration order
	Tokens  *Value   // input [T,1] int32
	Targets *Value   // input [T,1] int32
	Logits  *Value   // [T,V]
	Loss    *Value   // [1,1]

	// Forward computes Logits and then Loss; Infer is the prefix of Forward
	// that ends at Logits (NInfer instructions).
	Forward []*Instr
	NInfer  int
	// Backward is filled by autodiff: given dLoss = 1, it accumulates
	// every parameter's gradient.
	Backward []*Instr
	// DLoss is the seed of the backward pass ([1,1], set to 1).
	DLoss *Value
}

// NewValue appends a value to the program and returns it.
func (p *Program) NewValue(name string, kind Kind, dt DType, rows Rows, cols int, pos source.Pos) *Value {
	v := &Value{ID: len(p.Values), Name: name, Kind: kind, DType: dt, Rows: rows, Cols: cols, Pos: pos}
	p.Values = append(p.Values, v)
	return v
}
