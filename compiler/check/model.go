package check

import "github.com/bfcdev/bfc/lang/source"

// Model is a checked model with every block expanded and every size resolved
// to a number. Lowering (compiler/lower) consumes it.
type Model struct {
	Name string
	Pos  source.Pos

	// Consts are the model's named constants (file-level ones it uses and its
	// own), after build-time overrides, in declaration order.
	Consts []Const

	Vocab    int
	D        int    // width of the residual stream (the embedding dim)
	MaxBatch int    // from input(batch: ..)
	MaxSeq   int    // from input(seq: ..)
	PosEmbed string // "learned" or "none" (embed(pos: ..))
	EmbedPos source.Pos

	Layers []*Layer // every sub-layer of every repeated block, in order

	// FinalWidth is the width of the stream after the last block: D unless
	// some sub-layer changes the width (out: with residual: false). A tied
	// head requires it to equal D.
	FinalWidth int

	FinalNorm string // "rms", "layer" or "none"
	NormPos   source.Pos
	NormEps   float64
	Tied      bool // head tied to the token embedding
	HeadPos   source.Pos
	Loss      string // "cross_entropy"
	LossPos   source.Pos
}

// Const is a resolved constant.
type Const struct {
	Name string
	Type string // dim, int, real, bool
	Int  int64
	Real float64
	Bool bool
	Pos  source.Pos
}

// Layer is one sub-layer instance: a primitive wrapped in a residual and a norm.
type Layer struct {
	// Name is the dotted prefix of the layer's parameters:
	// "blocks.<i>.<sub-layer name>", i counting block instances from 0.
	Name     string
	Block    string // the block's name
	Instance int    // i above
	Sub      string // the sub-layer's name inside the block
	Pos      source.Pos

	Kind string // "attention", "ffn" or "moe"

	Norm      string  // "rms", "layer" or "none"
	Placement string  // "pre" or "post"
	Eps       float64 // norm epsilon
	Residual  bool

	In, Out int // input and output widths

	// attention
	Heads, HeadDim int
	Causal         bool

	// ffn, and each expert of a moe
	Hidden int
	Act    string // relu, gelu, gelu_tanh, sqrelu, silu, reglu, geglu, swiglu

	// moe: Experts experts, each an ffn of width Hidden with activation Act
	// (mapping In to In), and the router's rule.
	Experts int
	Route   Route
}

// Route is the routing rule of a moe layer.
type Route struct {
	Rule     string     // "expert_choice" or "top_k"
	Pos      source.Pos // of the rule
	Capacity float64    // capacity factor c
	Group    string     // routing group: "batch", "sequence" or "position"
	// top_k only
	K         int     // experts per token
	AuxWeight float64 // load-balancing loss weight (GLaM: 0.01)
	Drop      string  // what happens to assignments beyond an expert's capacity: "overflow" (dropped)
	// both
	ZWeight float64 // router z-loss weight (0: off)
	// AllowLeak is set when the user explicitly accepts routing that lets
	// tokens see the future in a causal model (attribute leak: allow):
	// expert choice, or top_k with K >= 2, over a group that spans the time
	// axis (batch or sequence).
	AllowLeak bool
	// Fill (expert_choice, fill: top1): a token no expert took in its group
	// goes to its expert of highest probability as well.
	Fill bool
	// Causal (expert_choice, causal: true): each expert decides on a
	// group's members in order, from the members before.
	Causal bool

	// Positions of the capacity and group attributes' values (the rule's
	// position where the attribute takes its default), for diagnostics that
	// need the whole model.
	CapacityPos, GroupPos source.Pos
}

// Gated reports whether the layer's activation is a gated linear unit and,
// if so, the activation of its gate.
func (l *Layer) Gated() (gate string, ok bool) {
	switch l.Act {
	case "reglu":
		return "relu", true
	case "geglu":
		return "gelu", true
	case "swiglu":
		return "silu", true
	}
	return l.Act, false
}
