package codegen

import (
	"fmt"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/bfcdev/bfc/compiler/ir"
	"github.com/bfcdev/bfc/compiler/plan"
)

// body collects the statements of one pass (Forward, Backward or Infer) and
// the locals they use, so that only those are declared.
type body struct {
	g     *gen
	arena *plan.Arena
	// fromModel: batch and seq are m.batch and m.seq (Backward), not
	// parameters.
	fromModel bool
	// tokens and targets name the int32 inputs.
	tokens, targets string
	// ws is the Model field holding the moe workspaces this pass uses;
	// fail is what the pass returns with an error (beside it).
	ws   string
	fail jen.Code
	// losses: record the cross-entropy and the router losses for Losses.
	losses bool
	// fused: the layout's fused pairs, for the forward passes.
	fused []bool
	// decode: the Decoder's Step or Prefill (decode.go).
	decode decodeMode
	// sets: the Backward instructions that set the parameter gradients
	// they write instead of adding to them (see gradSetters).
	sets  map[*ir.Instr]bool
	used  map[string]bool
	stmts []jen.Code
}

func (g *gen) newBody(a *plan.Arena) *body {
	return &body{g: g, arena: a, tokens: "tokens", targets: "targets", ws: "moe", fail: jen.Lit(0), used: map[string]bool{}}
}

func (b *body) add(c ...jen.Code) { b.stmts = append(b.stmts, c...) }

// id returns a use of a local, recording it.
func (b *body) id(name string) *jen.Statement {
	b.used[name] = true
	return jen.Id(name)
}

func (b *body) batch() *jen.Statement {
	if b.fromModel {
		return jen.Id("m").Dot("batch")
	}
	return jen.Id("batch")
}

func (b *body) seq() *jen.Statement {
	if b.fromModel {
		return jen.Id("m").Dot("seq")
	}
	return jen.Id("seq")
}

// rows is the row count of a value: T or a constant.
func (b *body) rows(r ir.Rows) *jen.Statement {
	if r.Tokens {
		return b.id("T")
	}
	return jen.Lit(r.N)
}

// times renders n·T, or n when n is 1.
func (b *body) timesT(n int) *jen.Statement {
	if n == 1 {
		return b.id("T")
	}
	return b.id("T").Op("*").Lit(n)
}

// span renders x[off : off+len], where len is n·T or a constant n.
func (b *body) span(x string, off int, n int, tokens bool) *jen.Statement {
	switch {
	case !tokens:
		return b.id(x).Index(jen.Lit(off), jen.Lit(off+n))
	case off == 0:
		return b.id(x).Index(jen.Lit(0), b.timesT(n))
	default:
		return b.id(x).Index(jen.Lit(off), jen.Lit(off).Op("+").Add(b.timesT(n)))
	}
}

// val renders the slice holding v in the current pass.
func (b *body) val(v *ir.Value) *jen.Statement {
	l := b.g.l
	switch v.Kind {
	case ir.KindInput:
		switch v {
		case b.g.p.Tokens:
			return b.id(b.tokens)
		case b.g.p.Targets:
			return b.id(b.targets)
		}
	case ir.KindParam:
		return b.span("w", l.Params.Offset(v), v.Rows.N*v.Cols, false)
	case ir.KindGrad:
		return b.span("g", l.Grads.Offset(v), v.Rows.N*v.Cols, false)
	case ir.KindTemp:
		if off := b.arena.Offset(v); off >= 0 {
			if v.Rows.Tokens {
				return b.span("a", off, v.Cols, true)
			}
			return b.span("a", off, v.Rows.N*v.Cols, false)
		}
	}
	// Generate checked the program and the layout, so this is a bug.
	panic(fmt.Sprintf("codegen: value %s (v%d) has no storage", v.Name, v.ID))
}

// vals renders several values.
func (b *body) vals(vs ...*ir.Value) []jen.Code {
	out := make([]jen.Code, len(vs))
	for i, v := range vs {
		out[i] = b.val(v)
	}
	return out
}

func kernel(name string) *jen.Statement { return jen.Qual(kernelsPath, name) }

// bf16Kernels maps the kernels with products to their bf16 forms.
var bf16Kernels = map[string]string{
	"Gemm": "GemmBF16", "GemmStreamB": "GemmBF16", "GemmAct": "GemmActBF16",
	"Attention": "AttentionBF16", "AttentionBackward": "AttentionBackwardBF16",
	"AttentionDecode": "AttentionDecodeBF16",
}

// kernel returns the kernel name in the model's precision.
func (b *body) kernel(name string) *jen.Statement {
	if n, ok := bf16Kernels[name]; ok && b.g.bf16 {
		name = n
	}
	return kernel(name)
}

// instrs emits the instructions seq, the i-th preceded by the zeroing
// zero[i].
func (b *body) instrs(seq []*ir.Instr, zero [][]*ir.Value) {
	for i := 0; i < len(seq); i++ {
		in := seq[i]
		b.add(jen.Comment(describe(in)))
		over := overwrites(in, zero[i])
		for _, v := range zero[i] {
			if !over {
				b.add(kernel("Zero").Call(b.val(v)))
			}
		}
		if plan.FusedWithNext(b.fused, seq, i) && b.runsFused(in) {
			next := seq[i+1]
			b.add(jen.Comment(describe(next) + " (fused)"))
			for _, v := range zero[i+1] {
				b.add(kernel("Zero").Call(b.val(v)))
			}
			b.fusedPair(in, next)
			i++
			continue
		}
		if over || (b.sets[in] && in.Op == ir.OpMatMul) {
			b.overwrite(in)
			continue
		}
		b.instr(in)
		if b.losses && len(in.Outs) > 0 && in.Outs[0] == b.g.ce {
			b.add(jen.Id("m").Dot("ce").Op("=").Add(b.elem(b.g.ce)))
		}
	}
}

// overwrites reports whether in, an accumulating instruction whose only
// output is to be zeroed first (zero), can overwrite it instead: a matmul
// (beta 0) or an accum (a copy). That saves a pass over the output.
func overwrites(in *ir.Instr, zero []*ir.Value) bool {
	return len(zero) == 1 && len(in.Outs) == 1 && zero[0] == in.Outs[0] &&
		((in.Op == ir.OpMatMul && in.Attrs.Acc) || in.Op == ir.OpAccum)
}

// overwrite emits in, for which overwrites holds, writing its output.
func (b *body) overwrite(in *ir.Instr) {
	if in.Op == ir.OpAccum {
		b.add(jen.Copy(b.val(in.Outs[0]), b.val(in.Args[0])))
		return
	}
	acc := *in
	acc.Attrs.Acc = false
	b.instr(&acc)
}

// runsFused reports whether the pair the layout fuses at first runs as
// one kernel in this body: the decoder's Step keeps a matmul on
// GemmStreamB (few rows), its activation after it.
func (b *body) runsFused(first *ir.Instr) bool {
	return first.Op != ir.OpMatMul || b.decode != decodeStep
}

// fusedPair emits the kernel running a pair that plan.Fusable accepted.
func (b *body) fusedPair(first, second *ir.Instr) {
	switch {
	case first.Op == ir.OpAdd && second.Op == ir.OpRMSNorm:
		h, x := first.Outs[0], second.Args[0]
		b.add(kernel("AddRMSNorm").Call(b.val(h), b.val(second.Outs[0]), b.val(second.Outs[1]),
			b.val(first.Args[0]), b.val(first.Args[1]), b.val(second.Args[1]),
			b.rows(x.Rows), jen.Lit(x.Cols), jen.Lit(second.Attrs.Eps)))
	case first.Op == ir.OpMatMul && second.Op == ir.OpAct:
		y := second.Outs[0]
		args := append([]jen.Code{act(second.Attrs.Act)}, b.matmulArgs(first)...)
		b.add(b.kernel("GemmAct").Call(append(args, b.val(y), jen.Lit(y.Cols))...))
	default:
		panic(fmt.Sprintf("codegen: no fused kernel for %v then %v", first.Op, second.Op))
	}
}

// toF converts a float64 expression to the element type.
func (b *body) toF(x *jen.Statement) *jen.Statement {
	if b.g.F == "float64" {
		return x
	}
	return jen.Id(b.g.F).Call(x)
}

// instr emits one kernel call.
func (b *body) instr(in *ir.Instr) {
	if b.decode != 0 && b.decodeInstr(in) {
		return
	}
	a, o, at := in.Args, in.Outs, in.Attrs
	switch in.Op {
	case ir.OpEmbed:
		b.add(kernel("Embed").Call(b.val(o[0]), b.val(a[1]), b.val(a[0]), jen.Lit(o[0].Cols)))
	case ir.OpAddPos:
		d := o[0].Cols
		b.add(kernel("AddPosEmbed").Call(b.val(o[0]), b.val(a[0]), b.posTable("w", b.g.l.Params.Offset(a[1]), d),
			b.batch(), b.seq(), jen.Lit(d)))
	case ir.OpMatMul:
		b.matmul("Gemm", in)
	case ir.OpRMSNorm:
		x := a[0]
		b.add(kernel("RMSNorm").Call(b.val(o[0]), b.val(o[1]), b.val(x), b.val(a[1]), b.rows(x.Rows), jen.Lit(x.Cols), jen.Lit(at.Eps)))
	case ir.OpLayerNorm:
		x := a[0]
		b.add(kernel("LayerNorm").Call(b.val(o[0]), b.val(o[1]), b.val(o[2]), b.val(x), b.val(a[1]), b.val(a[2]),
			b.rows(x.Rows), jen.Lit(x.Cols), jen.Lit(at.Eps)))
	case ir.OpAttention:
		b.add(b.kernel("Attention").Call(b.val(o[0]), b.val(o[1]), b.val(a[0]),
			b.batch(), b.seq(), jen.Lit(at.Heads), jen.Lit(at.HeadDim), jen.Lit(at.Causal)))
	case ir.OpAct:
		b.add(kernel("Activate").Call(act(at.Act), b.val(o[0]), b.val(a[0])))
	case ir.OpGLU:
		b.add(kernel("GLU").Call(act(at.Act), b.val(o[0]), b.val(a[0]), b.rows(a[0].Rows), jen.Lit(o[0].Cols)))
	case ir.OpAdd:
		b.add(kernel("Add").Call(b.val(o[0]), b.val(a[0]), b.val(a[1])))
	case ir.OpCrossEntropy:
		logits := a[0]
		call := kernel("CrossEntropy").Call(b.val(o[1]), b.val(logits), b.val(a[1]), b.rows(logits.Rows), jen.Lit(logits.Cols))
		b.add(b.elem(o[0]).Op("=").Add(b.toF(call)))
	case ir.OpMoE:
		ws := jen.Id("m").Dot(b.ws).Index(jen.Lit(at.MoE.Workspace))
		b.used["aux"] = true
		b.add(
			jen.List(jen.Id("aux"), jen.Err()).Op("=").Qual(moePath, "Forward").Call(append([]jen.Code{ws}, append(b.vals(o[0], a[0], a[1], a[2], a[3]),
				b.batch(), b.seq())...)...),
			jen.If(jen.Err().Op("!=").Nil()).Block(
				jen.Return(b.fail, jen.Qual("fmt", "Errorf").Call(jen.Lit(b.g.pkg+": "+at.MoE.Name+": %w"), jen.Err()))),
			b.elem(o[1]).Op("=").Add(b.toF(jen.Id("aux"))),
		)
		if b.losses {
			b.add(jen.Id("m").Dot("aux").Op("+=").Add(b.elem(o[1])))
		}

	case ir.OpEmbedGrad:
		b.add(kernel("EmbedBackward").Call(b.val(o[0]), b.val(a[0]), b.val(a[1]), jen.Lit(a[0].Cols)))
	case ir.OpAddPosGrad:
		d := a[0].Cols
		b.add(kernel("AddPosEmbedBackward").Call(b.posTable("g", b.g.l.Grads.Offset(o[0]), d), b.val(a[0]),
			b.batch(), b.seq(), jen.Lit(d)))
	case ir.OpRMSNormGrad:
		x := a[1]
		b.add(kernel("RMSNormBackward").Call(append(b.vals(o[0], o[1], a[0], x, a[2], a[3]),
			b.rows(x.Rows), jen.Lit(x.Cols))...))
	case ir.OpLayerNormGrad:
		x := a[1]
		b.add(kernel("LayerNormBackward").Call(append(b.vals(o[0], o[1], o[2], a[0], x, a[2], a[3], a[4]),
			b.rows(x.Rows), jen.Lit(x.Cols))...))
	case ir.OpAttentionGrad:
		b.add(b.kernel("AttentionBackward").Call(append(b.vals(o[0], a[0], a[1], a[2], a[3]),
			b.batch(), b.seq(), jen.Lit(at.Heads), jen.Lit(at.HeadDim), jen.Lit(at.Causal))...))
	case ir.OpActGrad:
		b.add(kernel("ActivateBackward").Call(act(at.Act), b.val(o[0]), b.val(a[0]), b.val(a[1])))
	case ir.OpGLUGrad:
		b.add(kernel("GLUBackward").Call(act(at.Act), b.val(o[0]), b.val(a[0]), b.val(a[1]), b.rows(a[1].Rows), jen.Lit(a[0].Cols)))
	case ir.OpAccum:
		b.add(kernel("AddTo").Call(b.val(o[0]), b.val(a[0])))
	case ir.OpCrossEntropyGrad:
		logits := a[1]
		b.add(kernel("CrossEntropyBackward").Call(b.val(o[0]), b.val(logits), b.val(a[2]), b.val(a[3]),
			b.rows(logits.Rows), jen.Lit(logits.Cols), b.elem(a[0])))
	case ir.OpMoEGrad:
		ws := jen.Id("m").Dot(b.ws).Index(jen.Lit(at.MoE.Workspace))
		fn := "Backward"
		if b.sets[in] {
			fn = "BackwardSet"
		}
		b.add(jen.Qual(moePath, fn).Call(append([]jen.Code{ws}, append(b.vals(o[0], o[1], o[2], o[3], a[0]),
			append([]jen.Code{b.elem(a[1])}, b.vals(a[2], a[3], a[4], a[5])...)...)...)...))
	default:
		panic(fmt.Sprintf("codegen: no kernel for op %v", in.Op))
	}
}

// posTable renders the first seq rows of a position table of width d.
func (b *body) posTable(x string, off, d int) *jen.Statement {
	n := b.seq()
	if d != 1 {
		n = n.Op("*").Lit(d)
	}
	if off == 0 {
		return b.id(x).Index(jen.Lit(0), n)
	}
	return b.id(x).Index(jen.Lit(off), jen.Lit(off).Op("+").Add(n))
}

// elem renders the single element of a [1,1] temporary.
func (b *body) elem(v *ir.Value) *jen.Statement {
	return b.id("a").Index(jen.Lit(b.arena.Offset(v)))
}

func act(name string) *jen.Statement { return kernel(actNames[name]) }

// describe is the comment above an instruction: its layer and its IR form
// with values named, e.g.
//
//	blocks.0.attn: blocks.0.attn/qkv = matmul(blocks.0.attn.norm, @blocks.0.attn.qkv)
func describe(in *ir.Instr) string {
	var s strings.Builder
	if in.Layer != "" {
		s.WriteString(in.Layer + ": ")
	}
	for i, v := range in.Outs {
		if i > 0 {
			s.WriteString(", ")
		}
		s.WriteString(valueName(v))
	}
	if plan.Accumulates(in) {
		s.WriteString(" += ")
	} else {
		s.WriteString(" = ")
	}
	s.WriteString(in.Op.String() + "(")
	for i, v := range in.Args {
		if i > 0 {
			s.WriteString(", ")
		}
		s.WriteString(valueName(v))
		if (i == 0 && in.Attrs.TransA) || (i == 1 && in.Attrs.TransB) {
			s.WriteString("ᵀ")
		}
	}
	s.WriteString(")")
	at := in.Attrs
	switch in.Op {
	case ir.OpAct, ir.OpGLU, ir.OpActGrad, ir.OpGLUGrad:
		s.WriteString(" " + at.Act)
	case ir.OpAttention, ir.OpAttentionGrad:
		fmt.Fprintf(&s, " heads=%d head_dim=%d", at.Heads, at.HeadDim)
		if at.Causal {
			s.WriteString(" causal")
		}
	case ir.OpMoE, ir.OpMoEGrad:
		s.WriteString(" " + at.MoE.String())
	}
	return s.String()
}

func valueName(v *ir.Value) string {
	name := v.Name
	if name == "" {
		name = fmt.Sprintf("v%d", v.ID)
	}
	if v.Kind == ir.KindParam || v.Kind == ir.KindGrad {
		return "@" + name
	}
	return name
}

// decls returns the declarations of the locals b used, in a fixed order.
func (b *body) decls(tokens, targets, arena string) []jen.Code {
	var out []jen.Code
	if b.used["T"] || (b.tokens == "tok" && b.used["tok"]) || (b.targets == "tgt" && b.used["tgt"]) {
		out = append(out, jen.Id("T").Op(":=").Add(b.batch()).Op("*").Add(b.seq()))
	}
	if b.used["tok"] {
		out = append(out, jen.Id("tok").Op(":=").Add(jen.Id("m").Dot(tokens).Index(jen.Empty(), jen.Id("T"))))
	}
	if b.used["tgt"] {
		out = append(out, jen.Id("tgt").Op(":=").Add(jen.Id("m").Dot(targets).Index(jen.Empty(), jen.Id("T"))))
	}
	for _, d := range []struct{ local, field string }{{"a", arena}, {"w", "params"}, {"g", "grads"}} {
		if b.used[d.local] {
			out = append(out, jen.Id(d.local).Op(":=").Id("m").Dot(d.field))
		}
	}
	if b.used["aux"] {
		out = append(out, jen.Var().Id("aux").Float64().Comment("a moe layer's router losses"))
	}
	return out
}

func (g *gen) forward(f *jen.File) {
	p, l := g.p, g.l
	arena, field := &l.Train, "train"
	if !g.train {
		arena, field = &l.Eval, "work"
	}
	b := g.newBody(arena)
	if g.train {
		b.tokens, b.targets = "tok", "tgt"
	}
	b.losses = true
	b.fused = l.Fused
	b.instrs(p.Forward, arena.Zero[:len(p.Forward)])
	b.used["a"] = true // the loss is read from the arena

	stmts := []jen.Code{
		jen.If(jen.Err().Op("=").Id("checkTokens").Call(jen.Id("tokens"), jen.Id("batch"), jen.Id("seq")), jen.Err().Op("!=").Nil()).Block(
			jen.Return(jen.Lit(0), jen.Err())),
		jen.If(jen.Err().Op("=").Id("checkTargets").Call(jen.Id("targets"), jen.Len(jen.Id("tokens"))), jen.Err().Op("!=").Nil()).Block(
			jen.Return(jen.Lit(0), jen.Err())),
	}
	if len(g.moes) > 0 {
		stmts = append(stmts, jen.If(jen.Err().Op("=").Id("checkMoE").Call(jen.Id("batch"), jen.Id("seq")), jen.Err().Op("!=").Nil()).Block(
			jen.Return(jen.Lit(0), jen.Err())))
	}
	if g.train {
		stmts = append(stmts,
			jen.Id("m").Dot("ready").Op("=").False(),
			jen.Copy(jen.Id("m").Dot("tokens"), jen.Id("tokens")),
			jen.Copy(jen.Id("m").Dot("targets"), jen.Id("targets")),
		)
	}
	stmts = append(stmts, jen.List(jen.Id("m").Dot("ce"), jen.Id("m").Dot("aux")).Op("=").List(jen.Lit(0), jen.Lit(0)))
	stmts = append(stmts, b.decls("tokens", "targets", field)...)
	stmts = append(stmts, jen.Line())
	stmts = append(stmts, b.stmts...)
	stmts = append(stmts, jen.Line())
	if g.train {
		stmts = append(stmts, jen.List(jen.Id("m").Dot("batch"), jen.Id("m").Dot("seq"), jen.Id("m").Dot("ready")).Op("=").
			List(jen.Id("batch"), jen.Id("seq"), jen.True()))
	}
	stmts = append(stmts, jen.Return(b.elem(p.Loss), jen.Nil()))

	f.Line()
	f.Comment("Forward runs the model on batch sequences of seq tokens (tokens and targets")
	f.Comment("hold batch*seq ids, sequence after sequence) and returns the mean")
	f.Comment("cross-entropy of predicting targets, over the positions whose target is not")
	if len(g.moes) > 0 {
		f.Comment("negative, plus the moe layers' weighted router losses (see Losses). It fails,")
		f.Comment("changing nothing, if batch or seq is out of range (or too small for an")
		f.Comment("expert-choice layer's routing groups), a length does not match or an id is not")
		f.Comment("below Vocab.")
	} else {
		f.Comment("negative. It fails, changing nothing, if batch or seq is out of range, a")
		f.Comment("length does not match or an id is not below Vocab.")
	}
	if g.train {
		f.Comment("")
		f.Comment("Forward keeps the activations Backward needs; Infer does not disturb them.")
	}
	f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id("Forward").
		Params(jen.List(jen.Id("tokens"), jen.Id("targets")).Index().Int32(), jen.List(jen.Id("batch"), jen.Id("seq")).Int()).
		Params(jen.Id("loss").Id(g.F), jen.Err().Error()).
		Block(stmts...)
}

func (g *gen) backward(f *jen.File) {
	p, l := g.p, g.l
	nf := len(p.Forward)
	b := g.newBody(&l.Train)
	b.fromModel = true
	b.tokens, b.targets = "tok", "tgt"
	b.sets = gradSetters(p)
	b.add(jen.Comment("The loss seed."))
	b.add(b.elem(p.DLoss).Op("=").Lit(1))
	b.instrs(p.Backward, l.Train.Zero[nf:])

	stmts := []jen.Code{
		jen.If(jen.Op("!").Id("m").Dot("ready")).Block(jen.Return()),
		jen.Id("m").Dot("ready").Op("=").False(),
	}
	stmts = append(stmts, g.zeroGrads(b.sets)...)
	stmts = append(stmts, b.decls("tokens", "targets", "train")...)
	stmts = append(stmts, jen.Line())
	stmts = append(stmts, b.stmts...)

	f.Line()
	f.Comment("Backward sets the Grad of every parameter to the gradient of the loss of the")
	f.Comment("preceding Forward. It consumes what that Forward kept (its buffers are reused")
	f.Comment("for gradients), so it runs once per Forward: without a Forward since the last")
	f.Comment("Backward, or after a Forward that failed, it does nothing.")
	f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id("Backward").Params().Block(stmts...)
}

// gradSetters returns the Backward instructions that can set the
// parameter gradients they write, being the first to write each: a
// matmul adding into a gradient (it runs with beta 0), and a moe_grad
// that is first for all three of its parameter gradients
// (moe.BackwardSet). Backward zeroes only the other gradients, which
// saves a pass over those written this way, and a read of them: the
// expert weight gradients of a wide moe layer exceed the caches.
func gradSetters(p *ir.Program) map[*ir.Instr]bool {
	first := map[*ir.Value]*ir.Instr{}
	for _, in := range p.Backward {
		for _, v := range in.Outs {
			if v != nil && v.Kind == ir.KindGrad && first[v] == nil {
				first[v] = in
			}
		}
	}
	firstFor := func(in *ir.Instr, vs []*ir.Value) bool {
		for _, v := range vs {
			if v == nil || v.Kind != ir.KindGrad || first[v] != in {
				return false
			}
		}
		return true
	}
	sets := map[*ir.Instr]bool{}
	for _, in := range p.Backward {
		switch {
		case in.Op == ir.OpMatMul && in.Attrs.Acc && len(in.Outs) == 1:
			sets[in] = firstFor(in, in.Outs)
		case in.Op == ir.OpMoEGrad && len(in.Outs) == 4:
			sets[in] = firstFor(in, in.Outs[1:])
		}
	}
	return sets
}

// zeroGrads returns Backward's zeroing of the parameter gradients that
// no instruction of sets writes first, in runs of adjacent gradients.
func (g *gen) zeroGrads(sets map[*ir.Instr]bool) []jen.Code {
	written := map[*ir.Value]bool{}
	for in, ok := range sets {
		if !ok {
			continue
		}
		if in.Op == ir.OpMoEGrad {
			for _, v := range in.Outs[1:] {
				written[v] = true
			}
		} else {
			written[in.Outs[0]] = true
		}
	}
	grads := g.l.Grads
	var out []jen.Code
	lo, hi := -1, -1
	flush := func() {
		switch {
		case lo < 0:
		case lo == 0 && hi == grads.Size:
			out = append(out, kernel("Zero").Call(jen.Id("m").Dot("grads")))
		default:
			out = append(out, kernel("Zero").Call(jen.Id("m").Dot("grads").Index(jen.Lit(lo).Op(":").Lit(hi))))
		}
		lo, hi = -1, -1
	}
	for _, prm := range g.p.Params {
		v := prm.Grad
		if v == nil || !grads.Has(v) {
			continue
		}
		off := grads.Offset(v)
		end := off + (g.l.Elems(v)+plan.Align-1)/plan.Align*plan.Align // its slot
		if written[v] {
			flush()
			continue
		}
		if lo >= 0 && off != hi {
			flush()
		}
		if lo < 0 {
			lo = off
		}
		hi = end
	}
	flush()
	return out
}

func (g *gen) infer(f *jen.File) {
	p, l := g.p, g.l
	field := "infer"
	if !g.train {
		field = "work"
	}
	b := g.newBody(&l.Infer)
	b.fail = jen.Nil()
	if g.train {
		b.ws = "moeInfer"
	}
	b.fused = l.Fused
	b.instrs(p.Forward[:p.NInfer], l.Infer.Zero)

	off := l.Infer.Offset(p.Logits)
	end := jen.Lit(off).Op("+").Id("T").Op("*").Id("Vocab")
	if off == 0 {
		end = jen.Id("T").Op("*").Id("Vocab")
	}
	b.used["T"], b.used["a"] = true, true

	stmts := []jen.Code{
		jen.If(jen.Err().Op("=").Id("checkTokens").Call(jen.Id("tokens"), jen.Id("batch"), jen.Id("seq")), jen.Err().Op("!=").Nil()).Block(
			jen.Return(jen.Nil(), jen.Err())),
	}
	if len(g.moes) > 0 {
		stmts = append(stmts, jen.If(jen.Err().Op("=").Id("checkMoE").Call(jen.Id("batch"), jen.Id("seq")), jen.Err().Op("!=").Nil()).Block(
			jen.Return(jen.Nil(), jen.Err())))
	}
	stmts = append(stmts, b.decls("tokens", "targets", field)...)
	stmts = append(stmts, jen.Line())
	stmts = append(stmts, b.stmts...)
	stmts = append(stmts, jen.Line())
	stmts = append(stmts, jen.Return(jen.Id("a").Index(jen.Lit(off), end, end.Clone()), jen.Nil()))

	f.Line()
	f.Comment("Infer computes the logits of every position of batch sequences of seq tokens:")
	f.Comment("row t of the [batch*seq, Vocab] result scores the token after tokens[t]. The")
	f.Comment("result is valid until the next call of a Model method. Infer uses its own")
	f.Comment("buffers: it touches neither gradients nor what Forward keeps for Backward.")
	f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id("Infer").
		Params(jen.Id("tokens").Index().Int32(), jen.List(jen.Id("batch"), jen.Id("seq")).Int()).
		Params(jen.Id("logits").Index().Id(g.F), jen.Err().Error()).
		Block(stmts...)
}

func (g *gen) check(f *jen.File) {
	errf := func(format string, args ...jen.Code) *jen.Statement {
		return jen.Qual("fmt", "Errorf").Call(append([]jen.Code{jen.Lit(g.pkg + ": " + format)}, args...)...)
	}
	f.Line()
	f.Comment("checkTokens validates the shape of a batch and its token ids.")
	f.Func().Id("checkTokens").Params(jen.Id("tokens").Index().Int32(), jen.List(jen.Id("batch"), jen.Id("seq")).Int()).Error().Block(
		jen.If(jen.Id("batch").Op("<").Lit(1).Op("||").Id("batch").Op(">").Id("MaxBatch")).Block(
			jen.Return(errf("batch %d out of range [1, %d]", jen.Id("batch"), jen.Id("MaxBatch")))),
		jen.If(jen.Id("seq").Op("<").Lit(1).Op("||").Id("seq").Op(">").Id("MaxSeq")).Block(
			jen.Return(errf("seq %d out of range [1, %d]", jen.Id("seq"), jen.Id("MaxSeq")))),
		jen.If(jen.Len(jen.Id("tokens")).Op("!=").Id("batch").Op("*").Id("seq")).Block(
			jen.Return(errf("%d tokens for batch %d × seq %d", jen.Len(jen.Id("tokens")), jen.Id("batch"), jen.Id("seq")))),
		jen.For(jen.List(jen.Id("i"), jen.Id("t")).Op(":=").Range().Id("tokens")).Block(
			jen.If(jen.Id("t").Op("<").Lit(0).Op("||").Id("t").Op(">=").Id("Vocab")).Block(
				jen.Return(errf("token %d at position %d out of range [0, %d)", jen.Id("t"), jen.Id("i"), jen.Id("Vocab"))))),
		jen.Return(jen.Nil()),
	)
	f.Line()
	f.Comment("checkTargets validates n targets: below Vocab, negative for ignored positions.")
	f.Func().Id("checkTargets").Params(jen.Id("targets").Index().Int32(), jen.Id("n").Int()).Error().Block(
		jen.If(jen.Len(jen.Id("targets")).Op("!=").Id("n")).Block(
			jen.Return(errf("%d targets for %d tokens", jen.Len(jen.Id("targets")), jen.Id("n")))),
		jen.For(jen.List(jen.Id("i"), jen.Id("t")).Op(":=").Range().Id("targets")).Block(
			jen.If(jen.Id("t").Op(">=").Id("Vocab")).Block(
				jen.Return(errf("target %d at position %d out of range [0, %d) (negative targets are ignored)", jen.Id("t"), jen.Id("i"), jen.Id("Vocab"))))),
		jen.Return(jen.Nil()),
	)
}

// matmul emits the kernel gemm (Gemm, or GemmStreamB for few rows) for a
// matmul instruction.
func (b *body) matmul(gemm string, in *ir.Instr) {
	b.add(b.kernel(gemm).Call(b.matmulArgs(in)...))
}

// matmulArgs renders Gemm's arguments for a matmul instruction.
func (b *body) matmulArgs(in *ir.Instr) []jen.Code {
	a, at := in.Args, in.Attrs
	A, B, C := a[0], a[1], in.Outs[0]
	m, k := b.rows(A.Rows), jen.Lit(A.Cols)
	if at.TransA {
		m, k = jen.Lit(A.Cols), b.rows(A.Rows)
	}
	n := jen.Lit(B.Cols)
	if at.TransB {
		n = b.rows(B.Rows)
	}
	beta := 0
	if at.Acc {
		beta = 1
	}
	return []jen.Code{jen.Lit(at.TransA), jen.Lit(at.TransB), m, n, k,
		jen.Lit(1), b.val(A), jen.Lit(A.Cols), b.val(B), jen.Lit(B.Cols),
		jen.Lit(beta), b.val(C), jen.Lit(C.Cols)}
}
