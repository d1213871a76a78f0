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
	// OpMoE: a sparse mixture-of-experts layer, fused into one op backed by
	// runtime/moe: the router scores x·wg, the routing rule assigns tokens to
	// experts, each expert is an ffn (act, or a GLU when gated) and the
	// gated expert outputs are summed back into token order.
	// Outs = y [T,d], aux [1,1] (the weighted router losses: load balance
	// and z-loss). Args: x [T,d], wg (param [d,E], the router),
	// w1 (param [E·d, H1], logical [E,d,H1]; H1 = Hidden, or 2·Hidden when
	// gated, gate half first), w2 (param [E·Hidden, d], logical
	// [E,Hidden,d]). Attr MoE. Both results take a gradient. The routing
	// state (which expert took which token, the expert activations) lives in
	// the layer's workspace (MoE.Workspace), not in values: OpMoEGrad reads
	// what the last OpMoE of that workspace left there.
	OpMoE

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
	// OpMoEGrad: Outs = dx, dwg, dw1, dw2. Args: dy, daux [1,1], x, wg, w1,
	// w2 (those of the OpMoE whose workspace it shares). Attr MoE, the
	// forward instruction's.
	OpMoEGrad

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
	OpMoE:              "moe",
	OpEmbedGrad:        "embed_grad",
	OpAddPosGrad:       "addpos_grad",
	OpRMSNormGrad:      "rmsnorm_grad",
	OpLayerNormGrad:    "layernorm_grad",
	OpAttentionGrad:    "attention_grad",
	OpActGrad:          "act_grad",
	OpGLUGrad:          "glu_grad",
	OpAccum:            "accum",
	OpCrossEntropyGrad: "cross_entropy_grad",
	OpMoEGrad:          "moe_grad",
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
	MoE            *MoEAttrs
}

// Routing rules and groups of MoEAttrs.
const (
	RuleExpertChoice = "expert_choice" // each expert picks its top k tokens of the group
	RuleTopK         = "top_k"         // each token picks its top K experts
)

// Rules lists the routing rules; Groups the routing groups: the tokens
// that compete for the experts' capacity together (all tokens of the batch,
// each sequence, or the tokens of every sequence at one position).
var (
	Rules  = []string{RuleExpertChoice, RuleTopK}
	Groups = []string{"batch", "sequence", "position"}
)

// MoEAttrs configure one mixture-of-experts layer (OpMoE and its
// OpMoEGrad, which share one *MoEAttrs).
type MoEAttrs struct {
	// Name is the layer, e.g. "blocks.1.moe"; it names the layer's routing
	// statistics.
	Name string
	// Workspace is the index of the layer's routing workspace: the i-th
	// OpMoE of the forward list has Workspace i.
	Workspace int

	Experts int
	Hidden  int    // each expert's hidden width
	Act     string // the expert activation (the gate's, when Gated): one of Acts
	Gated   bool   // experts are GLUs: up is [d, 2·Hidden], gate half first

	Rule     string  // RuleExpertChoice or RuleTopK
	Capacity float64 // capacity factor: expert choice, the mean experts per token; top_k, the buffer slack
	Group    string  // one of Groups
	K        int     // top_k only: experts per token
	Fill     bool    // expert_choice only: a token no expert took goes to its top-1 expert
	Causal   bool    // expert_choice only: each expert decides on a member from the members before

	AuxWeight float64 // top_k only: weight of the load-balancing loss
	ZWeight   float64 // weight of the router z-loss (0: off)
}

// UpCols is the width of an expert's up projection: Hidden, or 2·Hidden
// when gated.
func (a *MoEAttrs) UpCols() int {
	if a.Gated {
		return 2 * a.Hidden
	}
	return a.Hidden
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
	// CE is the cross-entropy part of Loss: Loss itself in a dense model;
	// with moe layers Loss = CE + the sum of their aux results. Nil in
	// fragments.
	CE *Value

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

// MoE returns the forward OpMoE instructions of p, in order (the i-th has
// workspace i in a program that verifies).
func (p *Program) MoE() []*Instr {
	var out []*Instr
	for _, in := range p.Forward {
		if in != nil && in.Op == OpMoE {
			out = append(out, in)
		}
	}
	return out
}

// NewValue appends a value to the program and returns it.
func (p *Program) NewValue(name string, kind Kind, dt DType, rows Rows, cols int, pos source.Pos) *Value {
	v := &Value{ID: len(p.Values), Name: name, Kind: kind, DType: dt, Rows: rows, Cols: cols, Pos: pos}
	p.Values = append(p.Values, v)
	return v
}
