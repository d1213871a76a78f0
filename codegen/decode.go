package codegen

import (
	"fmt"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/bfcdev/bfc/compiler/ir"
)

// The generated Decoder runs the inference instructions on one new position
// per sequence: T is the batch, position embeddings are read at the
// decoder's position, attention appends to per-layer key/value caches and
// attends over them (kernels.AttentionDecode), and a moe layer routes the
// batch as the full forward routes group position (moe.Forward with seq 1).
// It uses the Model's inference arena and workspaces; NewDecoder allocates
// the caches, so Step allocates nothing.

// decodeMode is what a body emits for the Decoder.
type decodeMode int

const (
	decodeStep    decodeMode = iota + 1 // Step: one position per sequence
	decodePrefill                       // Prefill: Infer's code, filling the caches
)

// attentions returns the attention instructions of the inference pass, in
// order: the i-th has caches d.k[i] and d.v[i].
func (g *gen) attentions() []*ir.Instr {
	var out []*ir.Instr
	for _, in := range g.p.Forward[:g.p.NInfer] {
		if in.Op == ir.OpAttention {
			out = append(out, in)
		}
	}
	return out
}

// noDecoder says why the model cannot be decoded one position at a time
// (docs/language.md, decoding policy), or "" when it can.
func (g *gen) noDecoder() string {
	for _, in := range g.p.Forward[:g.p.NInfer] {
		switch {
		case in.Op == ir.OpAttention && !in.Attrs.Causal:
			return fmt.Sprintf("%s: attention is not causal, so a position depends on later ones and cannot be decoded one at a time", layerName(in))
		case in.Op == ir.OpMoE && in.Attrs.MoE.Group != "position":
			a := in.Attrs.MoE
			return fmt.Sprintf("%s: %s routes over group %s; decoding one position at a time reproduces the full forward only over group position (docs/language.md, decoding)", a.Name, a.Rule, a.Group)
		}
	}
	return ""
}

func layerName(in *ir.Instr) string {
	if in.Layer != "" {
		return in.Layer
	}
	return in.Pos.String()
}

// decodeInstr emits, for the decoder, the instructions that depend on
// positions, and matmuls; it reports false for the other row-wise ones,
// which Infer's code runs unchanged on T = batch rows.
func (b *body) decodeInstr(in *ir.Instr) bool {
	a, o, at := in.Args, in.Outs, in.Attrs
	pos := jen.Id("d").Dot("pos")
	cache := func() int {
		for j, x := range b.g.attentions() {
			if x == in {
				return j
			}
		}
		panic("codegen: attention not in the inference pass")
	}
	if b.decode == decodePrefill {
		if in.Op != ir.OpAttention {
			return false
		}
		i := cache()
		b.add(b.kernel("Attention").Call(b.val(o[0]), b.val(o[1]), b.val(a[0]),
			b.batch(), b.seq(), jen.Lit(at.Heads), jen.Lit(at.HeadDim), jen.Lit(at.Causal)))
		b.add(kernel("AttentionCache").Call(jen.Id("d").Dot("k").Index(jen.Lit(i)), jen.Id("d").Dot("v").Index(jen.Lit(i)),
			b.val(a[0]), b.batch(), b.seq(), jen.Id("MaxSeq"), jen.Lit(at.Heads), jen.Lit(at.HeadDim)))
		return true
	}
	switch in.Op {
	case ir.OpMatMul:
		// Few rows: GemmStreamB, which equals Gemm bit for bit.
		b.matmul("GemmStreamB", in)
	case ir.OpAddPos:
		d := o[0].Cols
		off := b.g.l.Params.Offset(a[1])
		row := b.id("w").Index(jen.Lit(off).Op("+").Add(pos).Op("*").Lit(d), jen.Lit(off+d).Op("+").Add(pos.Clone()).Op("*").Lit(d))
		b.add(kernel("AddPosEmbed").Call(b.val(o[0]), b.val(a[0]), row, b.id("T"), jen.Lit(1), jen.Lit(d)))
	case ir.OpAttention:
		i := cache()
		b.add(b.kernel("AttentionDecode").Call(b.val(o[0]), b.val(a[0]),
			jen.Id("d").Dot("k").Index(jen.Lit(i)), jen.Id("d").Dot("v").Index(jen.Lit(i)), jen.Id("d").Dot("scores"),
			b.id("T"), jen.Id("MaxSeq"), pos, jen.Lit(at.Heads), jen.Lit(at.HeadDim)))
	case ir.OpMoE:
		ws := jen.Id("m").Dot(b.ws).Index(jen.Lit(at.MoE.Workspace))
		b.used["aux"] = true
		b.add(
			jen.List(jen.Id("aux"), jen.Err()).Op("=").Qual(moePath, "Forward").Call(append([]jen.Code{ws}, append(b.vals(o[0], a[0], a[1], a[2], a[3]),
				b.id("T"), jen.Lit(1))...)...),
			jen.If(jen.Err().Op("!=").Nil()).Block(
				jen.Return(jen.Nil(), jen.Qual("fmt", "Errorf").Call(jen.Lit(b.g.pkg+": "+at.MoE.Name+": %w"), jen.Err()))),
			b.elem(o[1]).Op("=").Add(b.toF(jen.Id("aux"))),
		)
	default:
		return false
	}
	return true
}

// decoder emits Decoder, NewDecoder, StepDecoder and the Decoder's methods.
func (g *gen) decoder(f *jen.File) {
	F := jen.Id(g.F)
	attns := g.attentions()
	why := g.noDecoder()
	errf := func(format string, args ...jen.Code) *jen.Statement {
		return jen.Qual("fmt", "Errorf").Call(append([]jen.Code{jen.Lit(g.pkg + ": " + format)}, args...)...)
	}

	fields := []jen.Code{
		jen.Id("m").Op("*").Id("Model"),
		jen.Id("batch").Int().Comment("sequences decoded in lockstep"),
		jen.Id("pos").Int().Comment("positions decoded so far"),
	}
	if why == "" && len(attns) > 0 {
		fields = append(fields,
			jen.Comment("Keys and values of the positions decoded so far, per attention layer in"),
			jen.Comment("order: [batch, MaxSeq, heads*head_dim]."),
			jen.List(jen.Id("k"), jen.Id("v")).Index(jen.Lit(len(attns))).Index().Add(F.Clone()),
			jen.Id("scores").Index().Add(F.Clone()).Comment("attention scratch, MaxSeq"),
		)
	}
	f.Line()
	f.Comment("Decoder runs the model one position at a time on batch sequences in lockstep,")
	f.Comment("keeping every attention layer's keys and values (a key/value cache), so that")
	f.Comment("decoding n positions costs n steps rather than n full passes. Step at")
	f.Comment("position s gives the logits Infer gives at position s of the same sequences,")
	f.Comment("up to rounding. A Decoder uses its Model's inference buffers: Infer and Step")
	f.Comment("invalidate each other's results. It is not safe for concurrent use.")
	f.Type().Id("Decoder").Struct(fields...)

	iface := jen.Interface(
		jen.Id("Pos").Params().Int(),
		jen.Id("Reset").Params(),
		jen.Id("Step").Params(jen.Id("tokens").Index().Int32()).Params(jen.Index().Add(F.Clone()), jen.Error()),
		jen.Id("Prefill").Params(jen.Id("tokens").Index().Int32(), jen.Id("seq").Int()).Params(jen.Index().Add(F.Clone()), jen.Error()),
	)
	var newBody []jen.Code
	if why != "" {
		newBody = []jen.Code{jen.Return(jen.Nil(), errf("no decoder: %s", jen.Lit(why)))}
	} else {
		newBody = []jen.Code{
			jen.If(jen.Id("batch").Op("<").Lit(1).Op("||").Id("batch").Op(">").Id("MaxBatch")).Block(
				jen.Return(jen.Nil(), errf("decoder batch %d out of range [1, %d]", jen.Id("batch"), jen.Id("MaxBatch")))),
		}
		if len(g.moes) > 0 {
			newBody = append(newBody, jen.If(jen.Err().Op(":=").Id("checkMoE").Call(jen.Id("batch"), jen.Lit(1)), jen.Err().Op("!=").Nil()).Block(
				jen.Return(jen.Nil(), jen.Err())))
		}
		newBody = append(newBody, jen.Id("d").Op(":=").Op("&").Id("Decoder").Values(
			jen.Id("m").Op(":").Id("m"), jen.Id("batch").Op(":").Id("batch")))
		if len(attns) > 0 {
			newBody = append(newBody, jen.Id("d").Dot("scores").Op("=").Make(jen.Index().Add(F.Clone()), jen.Id("MaxSeq")))
		}
		for i, in := range attns {
			n := jen.Id("batch").Op("*").Id("MaxSeq").Op("*").Lit(in.Attrs.Heads * in.Attrs.HeadDim)
			newBody = append(newBody,
				jen.Id("d").Dot("k").Index(jen.Lit(i)).Op("=").Make(jen.Index().Add(F.Clone()), n).Comment(layerName(in)),
				jen.Id("d").Dot("v").Index(jen.Lit(i)).Op("=").Make(jen.Index().Add(F.Clone()), n.Clone()))
		}
		newBody = append(newBody, jen.Return(jen.Id("d"), jen.Nil()))
	}
	f.Line()
	f.Comment("NewDecoder returns a Decoder of batch sequences (1 to MaxBatch), at position 0,")
	f.Comment("with its caches allocated for MaxSeq positions.")
	if len(g.moes) > 0 {
		f.Comment("Moe layers must route over group position (docs/language.md, decoding): step")
		f.Comment("s then routes the group the full forward routes at position s, so batch must")
		f.Comment("be large enough for expert choice as in Infer.")
	}
	if why != "" {
		for _, l := range wrap("This model has no decoder: "+why+".", 80) {
			f.Comment(l)
		}
	}
	f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id("NewDecoder").Params(jen.Id("batch").Int()).
		Params(jen.Op("*").Id("Decoder"), jen.Error()).Block(newBody...)

	f.Line()
	f.Comment("StepDecoder is NewDecoder returning an interface, for callers that cannot")
	f.Comment("name this package's types (runtime/train's Generate).")
	f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id("StepDecoder").Params(jen.Id("batch").Int()).
		Params(iface, jen.Error()).Block(
		jen.List(jen.Id("d"), jen.Err()).Op(":=").Id("m").Dot("NewDecoder").Call(jen.Id("batch")),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Err())),
		jen.Return(jen.Id("d"), jen.Nil()),
	)

	dm := jen.Id("d").Op("*").Id("Decoder")
	f.Line()
	f.Comment("Pos returns the number of positions decoded since NewDecoder or Reset: the")
	f.Comment("position the next Step decodes.")
	f.Func().Params(dm.Clone()).Id("Pos").Params().Int().Block(jen.Return(jen.Id("d").Dot("pos")))
	f.Line()
	f.Comment("Reset starts new sequences at position 0.")
	f.Func().Params(dm.Clone()).Id("Reset").Params().Block(jen.Id("d").Dot("pos").Op("=").Lit(0))

	var stmts []jen.Code
	if why != "" {
		stmts = []jen.Code{jen.Return(jen.Nil(), errf("no decoder: %s", jen.Lit(why)))}
	} else {
		b, field, off, end := g.decodeBody(decodeStep)
		stmts = []jen.Code{
			jen.If(jen.Id("d").Dot("m").Op("==").Nil()).Block(
				jen.Return(jen.Nil(), errf("Decoder not made by NewDecoder"))),
			jen.If(jen.Id("d").Dot("pos").Op(">=").Id("MaxSeq")).Block(
				jen.Return(jen.Nil(), errf("decoder is at MaxSeq = %d positions; Reset it", jen.Id("MaxSeq")))),
			jen.If(jen.Err().Op("=").Id("checkTokens").Call(jen.Id("tokens"), jen.Id("d").Dot("batch"), jen.Lit(1)), jen.Err().Op("!=").Nil()).Block(
				jen.Return(jen.Nil(), jen.Err())),
			jen.Id("m").Op(":=").Id("d").Dot("m"),
			jen.Id("T").Op(":=").Id("d").Dot("batch"),
			jen.Id("a").Op(":=").Id("m").Dot(field),
		}
		if b.used["w"] {
			stmts = append(stmts, jen.Id("w").Op(":=").Id("m").Dot("params"))
		}
		if b.used["aux"] {
			stmts = append(stmts, jen.Var().Id("aux").Float64().Comment("a moe layer's router losses"))
		}
		stmts = append(stmts, jen.Line())
		stmts = append(stmts, b.stmts...)
		stmts = append(stmts, jen.Line(),
			jen.Id("d").Dot("pos").Op("++"),
			jen.Return(jen.Id("a").Index(jen.Lit(off), end, end.Clone()), jen.Nil()))
	}
	f.Line()
	f.Comment("Step decodes one position: tokens[i] is the next token of sequence i (batch")
	f.Comment("of them). It returns the [batch, Vocab] logits of that position, valid until")
	f.Comment("the next call of a Decoder or Model method. It fails, changing nothing, if the")
	f.Comment("decoder holds MaxSeq positions (Reset it), the number of tokens is not batch or")
	f.Comment("a token is not below Vocab.")
	f.Func().Params(dm.Clone()).Id("Step").Params(jen.Id("tokens").Index().Int32()).
		Params(jen.Id("logits").Index().Add(F.Clone()), jen.Err().Error()).Block(stmts...)

	g.prefill(f, why)
}

// prefill emits the Decoder's Prefill: Infer's code, with every attention
// layer also storing its keys and values in the caches.
func (g *gen) prefill(f *jen.File, why string) {
	errf := func(format string, args ...jen.Code) *jen.Statement {
		return jen.Qual("fmt", "Errorf").Call(append([]jen.Code{jen.Lit(g.pkg + ": " + format)}, args...)...)
	}
	var stmts []jen.Code
	if why != "" {
		stmts = []jen.Code{jen.Return(jen.Nil(), errf("no decoder: %s", jen.Lit(why)))}
	} else {
		b, field, off, end := g.decodeBody(decodePrefill)
		stmts = []jen.Code{
			jen.If(jen.Id("d").Dot("m").Op("==").Nil()).Block(
				jen.Return(jen.Nil(), errf("Decoder not made by NewDecoder"))),
			jen.If(jen.Err().Op("=").Id("checkTokens").Call(jen.Id("tokens"), jen.Id("d").Dot("batch"), jen.Id("seq")), jen.Err().Op("!=").Nil()).Block(
				jen.Return(jen.Nil(), jen.Err())),
		}
		if len(g.moes) > 0 {
			stmts = append(stmts, jen.If(jen.Err().Op("=").Id("checkMoE").Call(jen.Id("d").Dot("batch"), jen.Id("seq")), jen.Err().Op("!=").Nil()).Block(
				jen.Return(jen.Nil(), jen.Err())))
		}
		stmts = append(stmts,
			jen.Id("d").Dot("pos").Op("=").Lit(0),
			jen.Id("m").Op(":=").Id("d").Dot("m"),
			jen.Id("batch").Op(":=").Id("d").Dot("batch"),
			jen.Id("T").Op(":=").Id("batch").Op("*").Id("seq"),
			jen.Id("a").Op(":=").Id("m").Dot(field),
		)
		if b.used["w"] {
			stmts = append(stmts, jen.Id("w").Op(":=").Id("m").Dot("params"))
		}
		if b.used["aux"] {
			stmts = append(stmts, jen.Var().Id("aux").Float64().Comment("a moe layer's router losses"))
		}
		stmts = append(stmts, jen.Line())
		stmts = append(stmts, b.stmts...)
		stmts = append(stmts, jen.Line(),
			jen.Id("d").Dot("pos").Op("=").Id("seq"),
			jen.Return(jen.Id("a").Index(jen.Lit(off), end, end.Clone()), jen.Nil()))
	}
	f.Line()
	f.Comment("Prefill starts the decoder's sequences over with seq tokens each (tokens holds")
	f.Comment("batch*seq ids, sequence after sequence) in one pass, as seq Steps from")
	f.Comment("position 0 would, and returns Infer's logits of every position, [batch*seq,")
	f.Comment("Vocab], valid until the next call of a Decoder or Model method. Then Pos is")
	f.Comment("seq. It fails, changing nothing, if seq is out of range, the number of tokens")
	f.Comment("is not batch*seq or a token is not below Vocab.")
	f.Func().Params(jen.Id("d").Op("*").Id("Decoder")).Id("Prefill").Params(jen.Id("tokens").Index().Int32(), jen.Id("seq").Int()).
		Params(jen.Id("logits").Index().Id(g.F), jen.Err().Error()).Block(stmts...)
}

// wrap splits text into lines of at most width bytes, at spaces.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return append(lines, line)
}

// decodeBody is Infer's code for a Decoder pass in mode, with the model
// arena it runs on and the logits' offset and end there.
func (g *gen) decodeBody(mode decodeMode) (b *body, field string, off int, end *jen.Statement) {
	p, l := g.p, g.l
	field = "infer"
	if !g.train {
		field = "work"
	}
	b = g.newBody(&l.Infer)
	b.decode = mode
	b.fail = jen.Nil()
	if g.train {
		b.ws = "moeInfer"
	}
	b.fused = l.Fused
	b.instrs(p.Forward[:p.NInfer], l.Infer.Zero)
	off = l.Infer.Offset(p.Logits)
	end = jen.Lit(off).Op("+").Id("T").Op("*").Id("Vocab")
	if off == 0 {
		end = jen.Id("T").Op("*").Id("Vocab")
	}
	return b, field, off, end
}
