// Package stats counts the parameters and the matrix-multiply FLOPs of a
// checked model, the way the MoE papers (GLaM, Switch, Expert Choice,
// Brainformer) report them, so that bfc models can be compared with their
// tables. bfc stats prints what it computes.
//
// The conventions, per token of a forward pass:
//
//   - Params counts every parameter once: a tied head shares the token
//     embedding and adds nothing.
//   - Activated counts the parameters a token's computation uses. It leaves
//     out the embeddings (token and position: a lookup, not a matmul) and
//     the head when it is tied to the token embedding; an untied head
//     counts. Dense sub-layers count fully. A moe layer counts its router,
//     plus k experts under top_k(k: ...) (dropping ignored), or c experts
//     under expert_choice(capacity: c): c is the average number of experts
//     per token (k = floor(n·c/E) tokens for each of E experts is n·c
//     slots for n tokens, rounding ignored). Norm scales and biases count
//     as activated.
//   - FLOPs counts the matrix multiplies of the forward pass at 2 FLOPs per
//     multiply-add: 2·in·out for each weight matrix a token goes through
//     (attention's QKV and output projections, FFN matrices, the router,
//     the activated experts as above) and 2·d·vocab for the head, tied or
//     not. Element-wise work (norms, activations, softmax) is not counted.
//   - Attention's score matmuls (q·kᵀ and the weighted sum of values)
//     depend on how many positions a token attends to: 4·H·Dh FLOPs per
//     token and attended position. They are reported apart from FLOPs, per
//     attended position and at the model's maximum sequence length, where
//     a causal layer attends to (seq+1)/2 positions on average and a
//     non-causal one to seq.
//
// A backward pass costs about twice the forward FLOPs.
package stats

import (
	"math"

	"github.com/bfcdev/bfc/compiler/check"
)

// Model is the count of one model.
type Model struct {
	Name     string `json:"name"`
	Vocab    int    `json:"vocab"`
	D        int    `json:"d"`
	MaxBatch int    `json:"max_batch"`
	MaxSeq   int    `json:"max_seq"`
	Tied     bool   `json:"tied"`

	// Rows are the embedding, every sub-layer in order, the final norm and
	// the head.
	Rows []Row `json:"rows"`

	Params       int64 `json:"params"`        // every parameter, once
	Embedding    int64 `json:"embedding"`     // token and position embeddings
	NonEmbedding int64 `json:"non_embedding"` // Params - Embedding
	Activated    int64 `json:"activated"`     // per token, embeddings and a tied head excluded
	FLOPs        int64 `json:"flops"`         // matmul FLOPs per token, forward, attention scores excluded

	// ScoreFLOPsPerPos is the attention-score FLOPs per token and attended
	// position, summed over the attention layers (4·H·Dh each).
	ScoreFLOPsPerPos int64 `json:"score_flops_per_pos"`
	// ScoreFLOPs is the attention-score FLOPs per token at MaxSeq, averaged
	// over the positions of a sequence (causal layers attend to (seq+1)/2
	// positions on average).
	ScoreFLOPs int64 `json:"score_flops"`
}

// Row is the count of one part of a model.
type Row struct {
	Name string `json:"name"` // "embed", "blocks.<i>.<sub>", "norm", "head"
	Kind string `json:"kind"` // "embed", "attention", "ffn", "moe", "norm", "head"
	// Detail describes the part in words: widths, experts, routing.
	Detail    string `json:"detail"`
	Params    int64  `json:"params"`
	Activated int64  `json:"activated"`
	FLOPs     int64  `json:"flops"`
	// ScoreFLOPsPerPos and ScoreFLOPs are attention's score matmuls as for
	// Model; zero for other rows.
	ScoreFLOPsPerPos int64 `json:"score_flops_per_pos,omitempty"`
	ScoreFLOPs       int64 `json:"score_flops,omitempty"`
}

// Compute counts m.
func Compute(m *check.Model) *Model {
	s := &Model{Name: m.Name, Vocab: m.Vocab, D: m.D, MaxBatch: m.MaxBatch, MaxSeq: m.MaxSeq, Tied: m.Tied}

	emb := int64(m.Vocab) * int64(m.D)
	detail := sprintf("tokens %d×%d", m.Vocab, m.D)
	if m.PosEmbed == "learned" {
		emb += int64(m.MaxSeq) * int64(m.D)
		detail += sprintf(", positions %d×%d", m.MaxSeq, m.D)
	}
	if m.Tied {
		detail += ", shared with the head"
	}
	s.add(Row{Name: "embed", Kind: "embed", Detail: detail, Params: emb})
	s.Embedding = emb

	for _, l := range m.Layers {
		s.add(layer(l, m.MaxSeq))
	}

	n := normParams(m.FinalNorm, m.FinalWidth)
	s.add(Row{Name: "norm", Kind: "norm", Detail: m.FinalNorm, Params: n, Activated: n})

	head := Row{Name: "head", Kind: "head", FLOPs: 2 * int64(m.FinalWidth) * int64(m.Vocab)}
	if m.Tied {
		head.Detail = sprintf("tied: %d×%d, the token embedding's", m.FinalWidth, m.Vocab)
	} else {
		head.Params = int64(m.FinalWidth) * int64(m.Vocab)
		head.Activated = head.Params
		head.Detail = sprintf("untied: %d×%d", m.FinalWidth, m.Vocab)
	}
	s.add(head)
	s.NonEmbedding = s.Params - s.Embedding
	return s
}

func (s *Model) add(r Row) {
	s.Rows = append(s.Rows, r)
	s.Params += r.Params
	s.Activated += r.Activated
	s.FLOPs += r.FLOPs
	s.ScoreFLOPsPerPos += r.ScoreFLOPsPerPos
	s.ScoreFLOPs += r.ScoreFLOPs
}

// layer counts one sub-layer with its norm.
func layer(l *check.Layer, seq int) Row {
	r := Row{Name: l.Name, Kind: l.Kind}
	in, out := int64(l.In), int64(l.Out)
	switch l.Kind {
	case "attention":
		inner := int64(l.Heads) * int64(l.HeadDim)
		w := in*3*inner + inner*in // qkv and the output projection
		r.Params, r.Activated, r.FLOPs = w, w, 2*w
		r.ScoreFLOPsPerPos = 4 * inner
		ctx := float64(seq)
		causal := "non-causal"
		if l.Causal {
			ctx = float64(seq+1) / 2
			causal = "causal"
		}
		r.ScoreFLOPs = int64(math.Round(float64(r.ScoreFLOPsPerPos) * ctx))
		r.Detail = sprintf("%d heads × %d, %s", l.Heads, l.HeadDim, causal)
	case "ffn":
		w := ffnParams(in, int64(l.Hidden), out, l)
		r.Params, r.Activated, r.FLOPs = w, w, 2*w
		r.Detail = sprintf("hidden %d, %s", l.Hidden, l.Act)
	case "moe":
		router := in * int64(l.Experts)
		expert := ffnParams(in, int64(l.Hidden), in, l)
		per := activeExperts(l)
		act := float64(router) + per*float64(expert)
		r.Params = router + int64(l.Experts)*expert
		r.Activated = int64(math.Round(act))
		r.FLOPs = int64(math.Round(2 * act))
		rt := l.Route
		switch rt.Rule {
		case "top_k":
			r.Detail = sprintf("%d experts × hidden %d, %s, top_k k %d", l.Experts, l.Hidden, l.Act, rt.K)
		default:
			r.Detail = sprintf("%d experts × hidden %d, %s, expert_choice capacity %g", l.Experts, l.Hidden, l.Act, rt.Capacity)
		}
	}
	width := in
	if l.Placement == "post" {
		width = out
	}
	n := normParams(l.Norm, int(width))
	r.Params += n
	r.Activated += n
	return r
}

// ffnParams counts the matrices of an FFN (or one expert): in×hidden (twice
// for a gated activation) and hidden×out.
func ffnParams(in, hidden, out int64, l *check.Layer) int64 {
	up := in * hidden
	if _, gated := l.Gated(); gated {
		up *= 2
	}
	return up + hidden*out
}

// activeExperts is the number of experts a token goes through on average,
// the papers' way: k for top_k, the capacity c for expert choice.
func activeExperts(l *check.Layer) float64 {
	if l.Route.Rule == "top_k" {
		return float64(l.Route.K)
	}
	return l.Route.Capacity
}

// normParams counts a norm's scale (and a LayerNorm's bias) over width.
func normParams(kind string, width int) int64 {
	switch kind {
	case "rms":
		return int64(width)
	case "layer":
		return 2 * int64(width)
	}
	return 0
}
