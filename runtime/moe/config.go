package moe

import (
	"errors"
	"fmt"
	"math"

	"github.com/bfcdev/bfc/runtime/kernels"
)

// Rule is a routing rule.
type Rule int

// The routing rules.
const (
	ExpertChoice Rule = iota // each expert picks its top-k tokens
	TopK                     // each token picks its top-K experts
)

var ruleNames = [...]string{ExpertChoice: "expert_choice", TopK: "top_k"}

func (r Rule) String() string {
	if r >= 0 && int(r) < len(ruleNames) {
		return ruleNames[r]
	}
	return fmt.Sprintf("Rule(%d)", int(r))
}

// ParseRule returns the rule named s: "expert_choice" or "top_k".
func ParseRule(s string) (Rule, bool) {
	for i, n := range ruleNames {
		if n == s {
			return Rule(i), true
		}
	}
	return 0, false
}

// Group is the set of tokens that compete for experts (see the package
// comment).
type Group int

// The routing groups.
const (
	GroupBatch    Group = iota // all batch·seq tokens, batch-major
	GroupSequence              // each sequence, in position order
	GroupPosition              // each position across the batch, in batch order
)

var groupNames = [...]string{GroupBatch: "batch", GroupSequence: "sequence", GroupPosition: "position"}

func (g Group) String() string {
	if g >= 0 && int(g) < len(groupNames) {
		return groupNames[g]
	}
	return fmt.Sprintf("Group(%d)", int(g))
}

// ParseGroup returns the group named s: "batch", "sequence" or "position".
func ParseGroup(s string) (Group, bool) {
	for i, n := range groupNames {
		if n == s {
			return Group(i), true
		}
	}
	return 0, false
}

// Config describes one MoE layer.
type Config struct {
	Experts, D, Hidden int // experts, model width, expert hidden width
	Act                kernels.Act
	Gated              bool // GLU experts: W1 columns are [gate | up], each Hidden wide
	Rule               Rule
	Capacity           float64 // capacity factor c
	Group              Group
	K                  int // TopK: experts per token (ignored by ExpertChoice)
	// Fill (ExpertChoice): a token no expert took in its group goes to its
	// expert of highest probability as well, so every token gets one.
	Fill bool
	// Causal (ExpertChoice): each expert decides on a group's members in
	// member order, from the members before: it takes member i when fewer
	// than floor((i+1)·c/E) earlier members have a higher probability
	// (ties to the earlier), so no member's routing depends on later ones.
	Causal bool
	// BF16 runs the experts' products in bf16 precision
	// (kernels.GemmBF16: bfloat16 operands, float32 sums); the router,
	// the gates and everything else stay in the element type. It needs a
	// float32 workspace.
	BF16 bool
	// AuxWeight weighs the TopK load-balancing loss (must be 0 for
	// ExpertChoice); ZWeight the router z-loss (either rule). 0 is off.
	AuxWeight, ZWeight float64
	MaxBatch, MaxSeq   int
}

// H1 is the width of W1's output: Hidden, or 2·Hidden when Gated.
func (c Config) H1() int {
	if c.Gated {
		return 2 * c.Hidden
	}
	return c.Hidden
}

// Validate reports the first problem with c, or nil.
func (c Config) Validate() error {
	if c.Experts < 1 || c.D < 1 || c.Hidden < 1 {
		return fmt.Errorf("moe: experts %d, width %d and hidden %d must all be at least 1", c.Experts, c.D, c.Hidden)
	}
	if _, ok := kernels.ParseAct(c.Act.String()); !ok {
		return fmt.Errorf("moe: unknown activation %v", c.Act)
	}
	if c.MaxBatch < 1 || c.MaxSeq < 1 {
		return fmt.Errorf("moe: max batch %d and max seq %d must be at least 1", c.MaxBatch, c.MaxSeq)
	}
	if c.Group < 0 || int(c.Group) >= len(groupNames) {
		return fmt.Errorf("moe: unknown routing group %v", c.Group)
	}
	if !(c.Capacity > 0) || math.IsInf(c.Capacity, 0) {
		return fmt.Errorf("moe: capacity factor %v must be positive and finite", c.Capacity)
	}
	if !(c.ZWeight >= 0) || math.IsInf(c.ZWeight, 0) {
		return fmt.Errorf("moe: z-loss weight %v must be finite and non-negative", c.ZWeight)
	}
	if !(c.AuxWeight >= 0) || math.IsInf(c.AuxWeight, 0) {
		return fmt.Errorf("moe: load-balancing loss weight %v must be finite and non-negative", c.AuxWeight)
	}
	switch c.Rule {
	case ExpertChoice:
		if c.AuxWeight != 0 {
			return errors.New("moe: expert choice is balanced by construction and has no load-balancing loss; set its weight to 0 (a z-loss weight is allowed)")
		}
		if c.Capacity > float64(c.Experts) {
			return fmt.Errorf("moe: expert choice capacity factor %v is the mean number of experts per token and cannot exceed the %d experts", c.Capacity, c.Experts)
		}
		if err := c.checkK(c.MaxBatch, c.MaxSeq); err != nil {
			return fmt.Errorf("%w (at the maximum shape, so no shape can work)", err)
		}
	case TopK:
		if c.Fill || c.Causal {
			return errors.New("moe: fill and causal are expert choice options; top_k gives every token its k choices already, in group order")
		}
		if c.K < 1 || c.K > c.Experts {
			return fmt.Errorf("moe: top_k needs 1 <= k <= experts, got k = %d with %d experts", c.K, c.Experts)
		}
	default:
		return fmt.Errorf("moe: unknown routing rule %v", c.Rule)
	}
	return nil
}

// GroupShape returns the number of routing groups and the tokens in each
// for a run of batch sequences of seq tokens.
func (c Config) GroupShape(batch, seq int) (groups, size int) {
	switch c.Group {
	case GroupSequence:
		return batch, seq
	case GroupPosition:
		return seq, batch
	}
	return 1, batch * seq
}

// capEps absorbs the rounding of n·c/E when it is mathematically an
// integer (c = 0.1 and the like), so floor and ceil do not step past it.
const capEps = 1e-9

// ExpertCapacity returns the expert capacity for a group of n tokens: for
// expert choice the tokens each expert takes, k = floor(n·c/E); for top-k
// the buffer size C = ceil(K·n·c/E).
func (c Config) ExpertCapacity(n int) int {
	e := float64(c.Experts)
	if c.Rule == TopK {
		return int(math.Ceil(float64(c.K)*float64(n)*c.Capacity/e - capEps))
	}
	return int(math.Floor(float64(n)*c.Capacity/e + capEps))
}

// CheckShape reports why a run of batch sequences of seq tokens cannot run
// on this layer, or nil.
func (c Config) CheckShape(batch, seq int) error {
	if batch < 1 || seq < 1 {
		return fmt.Errorf("moe: batch %d × seq %d: both must be at least 1", batch, seq)
	}
	if batch > c.MaxBatch || seq > c.MaxSeq {
		return fmt.Errorf("moe: batch %d × seq %d exceeds the layer's maximum %d × %d; raise the maxima the model was compiled for or run smaller batches", batch, seq, c.MaxBatch, c.MaxSeq)
	}
	if c.Rule != ExpertChoice || c.Causal {
		// Causal expert choice takes member i by a quota that depends on
		// i alone, so any group size works (a small one takes little).
		return nil
	}
	return c.checkK(batch, seq)
}

// checkK reports an expert-choice shape whose k = floor(n·c/E) is not
// between 1 and n.
func (c Config) checkK(batch, seq int) error {
	groups, n := c.GroupShape(batch, seq)
	k := c.ExpertCapacity(n)
	if k < 1 {
		return fmt.Errorf("moe: expert choice over group %s: batch %d × seq %d gives %d groups of n = %d tokens, so each of the %d experts takes k = floor(n·c/E) = floor(%d·%g/%d) = %d tokens; k must be at least 1: use bigger groups (group batch or sequence, or a larger batch), a larger capacity factor or fewer experts",
			c.Group, batch, seq, groups, n, c.Experts, n, c.Capacity, c.Experts, k)
	}
	if k > n {
		return fmt.Errorf("moe: expert choice over group %s: batch %d × seq %d gives groups of n = %d tokens but k = floor(n·c/E) = %d tokens per expert; k cannot exceed n: lower the capacity factor %g to at most the %d experts",
			c.Group, batch, seq, n, k, c.Capacity, c.Experts)
	}
	return nil
}

// maxSlots bounds the (token, expert) assignments of any allowed shape.
func (c Config) maxSlots() int {
	t := c.MaxBatch * c.MaxSeq
	if c.Rule == TopK {
		return c.K * t
	}
	if c.Causal {
		return t * c.Experts // an expert may take every member
	}
	// groups·E·floor(n·c/E) <= T·c, and c <= E; Fill adds at most T.
	s := int(math.Ceil(float64(t) * c.Capacity))
	if c.Fill {
		s += t
	}
	return s
}
