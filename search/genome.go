package search

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/bfcdev/bfc/compiler/check"
	"github.com/bfcdev/bfc/compiler/stats"
	"github.com/bfcdev/bfc/lang/printer"
)

// Genome is one candidate of a space: the number of blocks, the model
// width, block-level attribute values and the block's sub-layers, each of
// which may override the block-level values (when the space allows it).
type Genome struct {
	Blocks int               `json:"blocks"`
	D      int               `json:"d"`
	Attrs  map[string]string `json:"attrs"` // kind.attr -> .bf text, as check.Space.Attrs
	Layers []Layer           `json:"layers"`
}

// Layer is one sub-layer of a candidate block.
type Layer struct {
	Kind string            `json:"kind"`
	Over map[string]string `json:"over,omitempty"` // per-layer values that differ from the block's
}

// Clone returns a deep copy of g.
func (g *Genome) Clone() *Genome {
	out := &Genome{Blocks: g.Blocks, D: g.D, Attrs: cloneMap(g.Attrs), Layers: make([]Layer, len(g.Layers))}
	for i, l := range g.Layers {
		out.Layers[i] = Layer{Kind: l.Kind, Over: cloneMap(l.Over)}
	}
	return out
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// value is layer i's value of key.
func (g *Genome) value(i int, key string) string {
	if v, ok := g.Layers[i].Over[key]; ok {
		return v
	}
	return g.Attrs[key]
}

// kindKeys lists the attribute keys of a kind, in SpaceKeys order.
func kindKeys(kind string) []string {
	var out []string
	for _, k := range check.SpaceKeys {
		if strings.HasPrefix(k, kind+".") {
			out = append(out, k)
		}
	}
	return out
}

// Baseline returns the genome of the space's baseline model.
func Baseline(s *check.Space) *Genome {
	g := &Genome{Blocks: s.BaselineBlocks, D: s.Baseline.D, Attrs: map[string]string{}}
	// Block-level values: each attribute's value in the first baseline
	// layer of its kind (the space's first alternative when the baseline
	// has no such layer); layers that differ override it.
	for _, key := range check.SpaceKeys {
		g.Attrs[key] = s.Attrs[key][0]
	}
	first := map[string]bool{}
	for _, l := range s.BaselineLayers {
		gl := Layer{Kind: l.Kind}
		vals := layerValues(l)
		for _, key := range kindKeys(l.Kind) {
			v := vals[key]
			if !first[l.Kind] {
				g.Attrs[key] = v
			} else if v != g.Attrs[key] {
				if gl.Over == nil {
					gl.Over = map[string]string{}
				}
				gl.Over[key] = v
			}
		}
		first[l.Kind] = true
		g.Layers = append(g.Layers, gl)
	}
	return g
}

// layerValues writes a checked layer's attributes as genome values.
func layerValues(l *check.Layer) map[string]string {
	v := map[string]string{}
	switch l.Kind {
	case "attention":
		v["attention.heads"] = strconv.Itoa(l.Heads)
		if l.HeadDim*l.Heads != l.In {
			v["attention.head_dim"] = strconv.Itoa(l.HeadDim)
		} else {
			v["attention.head_dim"] = ""
		}
	case "ffn":
		v["ffn.hidden"] = strconv.Itoa(l.Hidden)
		v["ffn.act"] = l.Act
	case "moe":
		v["moe.experts"] = strconv.Itoa(l.Experts)
		v["moe.hidden"] = strconv.Itoa(l.Hidden)
		v["moe.act"] = l.Act
		v["moe.route"] = l.Route.Text()
	}
	return v
}

// Random draws a genome uniformly: the number of blocks, d, the number of
// sub-layers and each one's kind, and every attribute (per sub-layer when
// the space allows it).
func Random(s *check.Space, rng *rand.Rand) *Genome {
	g := &Genome{Blocks: pick(rng, s.Blocks), D: pick(rng, s.D), Attrs: map[string]string{}}
	for _, key := range check.SpaceKeys {
		g.Attrs[key] = pick(rng, s.Attrs[key])
	}
	n := s.MinSub + rng.IntN(s.MaxSub-s.MinSub+1)
	for range n {
		l := Layer{Kind: pick(rng, s.Kinds)}
		if s.PerLayer {
			for _, key := range kindKeys(l.Kind) {
				if v := pick(rng, s.Attrs[key]); v != g.Attrs[key] {
					if l.Over == nil {
						l.Over = map[string]string{}
					}
					l.Over[key] = v
				}
			}
		}
		g.Layers = append(g.Layers, l)
	}
	return g
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

// Project returns g with everything outside the space's choices replaced by
// a choice: the baseline when the space names other values than its own.
func Project(s *check.Space, g *Genome, rng *rand.Rand) *Genome {
	c := g.Clone()
	if !slices.Contains(s.Blocks, c.Blocks) {
		c.Blocks = pick(rng, s.Blocks)
	}
	if !slices.Contains(s.D, c.D) {
		c.D = pick(rng, s.D)
	}
	for _, key := range check.SpaceKeys {
		if !slices.Contains(s.Attrs[key], c.Attrs[key]) {
			c.Attrs[key] = pick(rng, s.Attrs[key])
		}
	}
	for i := range c.Layers {
		l := &c.Layers[i]
		if !slices.Contains(s.Kinds, l.Kind) {
			*l = Layer{Kind: pick(rng, s.Kinds)}
		}
		for k, v := range l.Over {
			if !s.PerLayer || !slices.Contains(s.Attrs[k], v) {
				delete(l.Over, k)
			}
		}
	}
	for len(c.Layers) > s.MaxSub {
		i := rng.IntN(len(c.Layers))
		c.Layers = slices.Delete(c.Layers, i, i+1)
	}
	for len(c.Layers) < s.MinSub {
		c.Layers = slices.Insert(c.Layers, rng.IntN(len(c.Layers)+1), Layer{Kind: pick(rng, s.Kinds)})
	}
	c.normalise()
	return c
}

// Probe draws n random candidates and reports how many pass the checker
// and, for the others, the refusals by count.
func Probe(s *check.Space, n int, seed uint64) (ok int, refusals map[string]int) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	refusals = map[string]int{}
	for range n {
		if _, msg := Check(Render(s, Random(s, rng))); msg != "" {
			// Strip the position: the same refusal anywhere counts once.
			if _, rest, ok := strings.Cut(msg, ": "); ok {
				msg = rest
			}
			refusals[msg]++
		} else {
			ok++
		}
	}
	return ok, refusals
}

// Mutation names, as the journal records them.
const (
	MutKind   = "kind"
	MutInsert = "insert"
	MutDelete = "delete"
	MutSwap   = "swap"
	MutAttr   = "attr"
)

// Mutate returns a copy of g changed by one mutation drawn uniformly from
// those the space allows at g: change a sub-layer's kind, insert a
// sub-layer, delete one, swap two of different kinds, or change one
// attribute (the number of blocks, d, a block-level value or, with
// per_layer, one sub-layer's value). It returns a description of the
// change, or "" when no mutation applies.
func Mutate(s *check.Space, g *Genome, rng *rand.Rand) (*Genome, string) {
	type move struct {
		name string
		do   func(c *Genome) string
	}
	var moves []move
	n := len(g.Layers)
	if len(s.Kinds) > 1 && n > 0 {
		moves = append(moves, move{MutKind, func(c *Genome) string {
			i := rng.IntN(n)
			old := c.Layers[i].Kind
			k := pick(rng, without(s.Kinds, old))
			c.Layers[i] = Layer{Kind: k}
			return fmt.Sprintf("kind: sub-layer %d %s -> %s", i+1, old, k)
		}})
	}
	if n < s.MaxSub {
		moves = append(moves, move{MutInsert, func(c *Genome) string {
			i := rng.IntN(n + 1)
			k := pick(rng, s.Kinds)
			c.Layers = slices.Insert(c.Layers, i, Layer{Kind: k})
			return fmt.Sprintf("insert: %s at %d", k, i+1)
		}})
	}
	if n > s.MinSub {
		moves = append(moves, move{MutDelete, func(c *Genome) string {
			i := rng.IntN(n)
			k := c.Layers[i].Kind
			c.Layers = slices.Delete(c.Layers, i, i+1)
			return fmt.Sprintf("delete: %s at %d", k, i+1)
		}})
	}
	var pairs [][2]int
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			if g.Layers[i].Kind != g.Layers[j].Kind || !maps(g.Layers[i].Over, g.Layers[j].Over) {
				pairs = append(pairs, [2]int{i, j})
			}
		}
	}
	if len(pairs) > 0 {
		moves = append(moves, move{MutSwap, func(c *Genome) string {
			p := pick(rng, pairs)
			c.Layers[p[0]], c.Layers[p[1]] = c.Layers[p[1]], c.Layers[p[0]]
			return fmt.Sprintf("swap: %d and %d", p[0]+1, p[1]+1)
		}})
	}
	// Attribute changes: every attribute with another value to take.
	type attr struct {
		layer int // -1: block level
		key   string
	}
	var attrs []attr
	if len(s.Blocks) > 1 {
		attrs = append(attrs, attr{-1, "blocks"})
	}
	if len(s.D) > 1 {
		attrs = append(attrs, attr{-1, "d"})
	}
	inherits := map[string]bool{} // some sub-layer takes the block's value of the key
	for _, l := range g.Layers {
		for _, key := range kindKeys(l.Kind) {
			if _, ok := l.Over[key]; !ok {
				inherits[key] = true
			}
		}
	}
	for _, key := range check.SpaceKeys {
		kind, _, _ := strings.Cut(key, ".")
		if len(s.Attrs[key]) < 2 {
			continue
		}
		if inherits[key] {
			attrs = append(attrs, attr{-1, key})
		}
		if s.PerLayer {
			for i, l := range g.Layers {
				if l.Kind == kind {
					attrs = append(attrs, attr{i, key})
				}
			}
		}
	}
	if len(attrs) > 0 {
		moves = append(moves, move{MutAttr, func(c *Genome) string {
			a := pick(rng, attrs)
			switch {
			case a.key == "blocks":
				v := pick(rng, without(s.Blocks, c.Blocks))
				old := c.Blocks
				c.Blocks = v
				return fmt.Sprintf("attr: blocks %d -> %d", old, v)
			case a.key == "d":
				v := pick(rng, without(s.D, c.D))
				old := c.D
				c.D = v
				return fmt.Sprintf("attr: d %d -> %d", old, v)
			case a.layer < 0:
				old := c.Attrs[a.key]
				v := pick(rng, without(s.Attrs[a.key], old))
				c.Attrs[a.key] = v
				return fmt.Sprintf("attr: %s %s -> %s", a.key, show(old), show(v))
			}
			old := c.value(a.layer, a.key)
			v := pick(rng, without(s.Attrs[a.key], old))
			l := &c.Layers[a.layer]
			if v == c.Attrs[a.key] {
				delete(l.Over, a.key)
			} else {
				if l.Over == nil {
					l.Over = map[string]string{}
				}
				l.Over[a.key] = v
			}
			return fmt.Sprintf("attr: sub-layer %d %s %s -> %s", a.layer+1, a.key, show(old), show(v))
		}})
	}
	if len(moves) == 0 {
		return g.Clone(), ""
	}
	m := pick(rng, moves)
	c := g.Clone()
	desc := m.do(c)
	c.normalise()
	return c, desc
}

func show(v string) string {
	if v == "" {
		return "(d / heads)"
	}
	return v
}

func maps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func without[T comparable](xs []T, x T) []T {
	var out []T
	for _, y := range xs {
		if y != x {
			out = append(out, y)
		}
	}
	return out
}

// normalise drops overrides equal to the block-level value, so that equal
// candidates have equal genomes.
func (g *Genome) normalise() {
	for i := range g.Layers {
		for k, v := range g.Layers[i].Over {
			if v == g.Attrs[k] || !strings.HasPrefix(k, g.Layers[i].Kind+".") {
				delete(g.Layers[i].Over, k)
			}
		}
		if len(g.Layers[i].Over) == 0 {
			g.Layers[i].Over = nil
		}
	}
}

// InSpace reports why g is not a genome of s ("" when it is).
func InSpace(s *check.Space, g *Genome) string {
	switch {
	case !slices.Contains(s.Blocks, g.Blocks):
		return fmt.Sprintf("blocks %d is not a choice", g.Blocks)
	case !slices.Contains(s.D, g.D):
		return fmt.Sprintf("d %d is not a choice", g.D)
	case len(g.Layers) < s.MinSub || len(g.Layers) > s.MaxSub:
		return fmt.Sprintf("%d sub-layers, outside %d to %d", len(g.Layers), s.MinSub, s.MaxSub)
	}
	for _, key := range check.SpaceKeys {
		if !slices.Contains(s.Attrs[key], g.Attrs[key]) {
			return fmt.Sprintf("%s %q is not a choice", key, g.Attrs[key])
		}
	}
	for i, l := range g.Layers {
		if !slices.Contains(s.Kinds, l.Kind) {
			return fmt.Sprintf("sub-layer %d: kind %s is not a choice", i+1, l.Kind)
		}
		if len(l.Over) > 0 && !s.PerLayer {
			return fmt.Sprintf("sub-layer %d overrides the block's values, and the space has per_layer: false", i+1)
		}
		for k, v := range l.Over {
			if !slices.Contains(s.Attrs[k], v) {
				return fmt.Sprintf("sub-layer %d: %s %q is not a choice", i+1, k, v)
			}
		}
	}
	return ""
}

// CandidateBlock and the model keep these names in every candidate, so
// that equal blocks have equal text.
const CandidateBlock = "Candidate"

// Render writes g as a .bf file: the candidate block and a model with the
// baseline's input, embedding, final norm, head and loss, in bfc fmt's
// canonical form. The text is the candidate's identity.
func Render(s *check.Space, g *Genome) string {
	m := s.Baseline
	var b strings.Builder
	fmt.Fprintf(&b, "block %s() {\n    norm %s %s\n", CandidateBlock, s.Norm, s.Placement)
	defEps := 1e-6
	if s.Norm == "layer" {
		defEps = 1e-5
	}
	count := map[string]int{}
	names := map[string]string{"attention": "attn", "ffn": "ffn", "moe": "moe"}
	causal := true
	for _, l := range s.BaselineLayers {
		if l.Kind == "attention" {
			causal = l.Causal
			break
		}
	}
	for i, l := range g.Layers {
		count[l.Kind]++
		var args []string
		v := func(key string) string { return g.value(i, key) }
		switch l.Kind {
		case "attention":
			args = append(args, "heads: "+v("attention.heads"))
			if hd := v("attention.head_dim"); hd != "" {
				args = append(args, "head_dim: "+hd)
			}
			args = append(args, "causal: "+strconv.FormatBool(causal))
		case "ffn":
			args = append(args, "hidden: "+v("ffn.hidden"), "act: "+v("ffn.act"))
		case "moe":
			args = append(args, "experts: "+v("moe.experts"), "hidden: "+v("moe.hidden"), "act: "+v("moe.act"), "route: "+v("moe.route"))
		}
		if s.Eps != defEps {
			args = append(args, "eps: "+strconv.FormatFloat(s.Eps, 'g', -1, 64))
		}
		fmt.Fprintf(&b, "    %s%d = %s(%s)\n", names[l.Kind], count[l.Kind], l.Kind, strings.Join(args, ", "))
	}
	b.WriteString("}\n\n")
	fmt.Fprintf(&b, "model %s {\n", m.Name)
	fmt.Fprintf(&b, "    input(batch: %d, seq: %d)\n", m.MaxBatch, m.MaxSeq)
	fmt.Fprintf(&b, "    embed(vocab: %d, dim: %d, pos: %s)\n", m.Vocab, g.D, m.PosEmbed)
	fmt.Fprintf(&b, "    repeat %d %s()\n", g.Blocks, CandidateBlock)
	fmt.Fprintf(&b, "    norm %s\n", m.FinalNorm)
	head := "untied"
	if m.Tied {
		head = "tied"
	}
	fmt.Fprintf(&b, "    head %s\n    loss %s\n}\n", head, m.Loss)
	text := b.String()
	// The text above is written in canonical form; formatting it checks
	// that and keeps it so if the printer's style changes.
	if out, err := printer.Format("candidate.bf", []byte(text)); err == nil {
		return string(out)
	}
	return text
}

// Checked is a candidate that passed the checker, with its counts.
type Checked struct {
	Text      string
	Params    int64
	Activated int64
	Model     *check.Model
}

// Check runs the candidate's text through bfc's checker. It returns the
// first diagnostics' text when the candidate does not pass.
func Check(text string) (*Checked, string) {
	res, diags := check.CheckSource(check.Config{}, "candidate.bf", []byte(text))
	if len(diags) > 0 {
		diags.Sort()
		return nil, diags[0].Error()
	}
	if len(res.Models) != 1 {
		return nil, "candidate.bf: no model"
	}
	st := stats.Compute(res.Models[0])
	return &Checked{Text: text, Params: st.Params, Activated: st.Activated, Model: res.Models[0]}, ""
}
