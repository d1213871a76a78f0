package ir

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// commentCol is the column at which instruction comments start (when the
// instruction is shorter).
const commentCol = 56

// Print writes p's stable text form, the output of `bfc ir`:
//
//	model tiny
//	const d dim 16
//	sizes batch=4 seq=8 vocab=32 d=16
//	inputs:
//	  %0 tokens [T,1] i32
//	params:
//	  @embed.tokens [32,16] normal(0.02) decay        ; model.bf:4:3
//	  @blocks.0.attn.norm.scale [16] as [1,16] ones  ; model.bf:7:5
//	forward:
//	  %5 [T,16] = embed %0, @embed.tokens             ; embed  model.bf:4:3
//	  ...
//	  ; infer ends: logits %20
//	  %21 [1,1], %22 [T,1] = cross_entropy %20, %1    ; loss  model.bf:12:3
//	backward:
//	  ; seed %23 [1,1] = 1
//	  %24 += cross_entropy_grad %23, %20, %22, %1      ; loss  model.bf:12:3
//	  @grad/head.weight += matmul %19, %24  transA    ; head  model.bf:11:3
//
// Parameters and their gradients print as @name, other values as %ID.
// Results of accumulating instructions print as "x += ..." without types.
// The text depends only on p, so printing twice gives the same bytes.
func Print(w io.Writer, p *Program) error {
	bw := bufio.NewWriter(w)
	pr := printer{w: bw}
	pr.program(p)
	return bw.Flush()
}

type printer struct {
	w *bufio.Writer
}

func (pr *printer) line(text, comment string) {
	if comment == "" {
		fmt.Fprintf(pr.w, "  %s\n", text)
		return
	}
	fmt.Fprintf(pr.w, "  %-*s ; %s\n", commentCol-2, text, comment)
}

func fmtFloat(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

func (pr *printer) program(p *Program) {
	fmt.Fprintf(pr.w, "model %s\n", p.Name)
	for _, c := range p.Consts {
		var v string
		switch c.Type {
		case "real":
			v = fmtFloat(c.Real)
		case "bool":
			v = strconv.FormatBool(c.Bool)
		default:
			v = strconv.FormatInt(c.Int, 10)
		}
		fmt.Fprintf(pr.w, "const %s %s %s\n", c.Name, c.Type, v)
	}
	fmt.Fprintf(pr.w, "sizes batch=%d seq=%d vocab=%d d=%d\n", p.MaxBatch, p.MaxSeq, p.Vocab, p.D)

	var inputs []*Value
	for _, v := range p.Values {
		if v != nil && v.Kind == KindInput {
			inputs = append(inputs, v)
		}
	}
	if len(inputs) > 0 {
		fmt.Fprintln(pr.w, "inputs:")
		for _, v := range inputs {
			pr.line(fmt.Sprintf("%%%d %s %v", v.ID, v.Name, v.Type()), "")
		}
	}
	if len(p.Params) > 0 {
		fmt.Fprintln(pr.w, "params:")
		for _, v := range p.Params {
			pr.line(paramText(v), posText(v))
		}
	}
	fmt.Fprintln(pr.w, "forward:")
	for i, in := range p.Forward {
		if i == p.NInfer && p.Logits != nil {
			pr.line("; infer ends: logits "+ref(p.Logits), "")
		}
		pr.line(instrText(in), instrComment(in))
	}
	if p.NInfer == len(p.Forward) && p.Logits != nil {
		pr.line("; infer ends: logits "+ref(p.Logits), "")
	}
	if p.CE != nil && p.CE != p.Loss {
		pr.line("; cross-entropy "+ref(p.CE), "")
	}
	if p.Loss != nil {
		pr.line("; loss "+ref(p.Loss), "")
	}
	if len(p.Backward) == 0 && p.DLoss == nil {
		return
	}
	fmt.Fprintln(pr.w, "backward:")
	if p.DLoss != nil {
		pr.line(fmt.Sprintf("; seed %s %v = 1", ref(p.DLoss), p.DLoss.Type()), "")
	}
	for _, in := range p.Backward {
		pr.line(instrText(in), instrComment(in))
	}
}

func paramText(v *Value) string {
	var b strings.Builder
	fmt.Fprintf(&b, "@%s %s", v.Name, dimsText(v.Shape))
	if len(v.Shape) != 2 || v.Shape[0] != v.Rows.N || v.Shape[1] != v.Cols {
		fmt.Fprintf(&b, " as %v", v.Type())
	}
	switch v.Init.Kind {
	case "normal":
		fmt.Fprintf(&b, " normal(%s)", fmtFloat(v.Init.Std))
	case "":
	default:
		fmt.Fprintf(&b, " %s", v.Init.Kind)
	}
	if v.Decay {
		b.WriteString(" decay")
	}
	return b.String()
}

func dimsText(dims []int) string {
	s := make([]string, len(dims))
	for i, d := range dims {
		s[i] = strconv.Itoa(d)
	}
	return "[" + strings.Join(s, ",") + "]"
}

func posText(v *Value) string {
	if v.Pos.IsValid() {
		return v.Pos.String()
	}
	return ""
}

func instrComment(in *Instr) string {
	if in == nil {
		return ""
	}
	var parts []string
	if in.Layer != "" {
		parts = append(parts, in.Layer)
	}
	if in.Pos.IsValid() {
		parts = append(parts, in.Pos.String())
	}
	return strings.Join(parts, "  ")
}

// instrText formats one instruction without its comment.
func instrText(in *Instr) string {
	if in == nil {
		return "<nil>"
	}
	var b strings.Builder
	for i, o := range in.Outs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(ref(o))
		if !in.Attrs.Acc && !in.Op.IsBackward() && o != nil {
			b.WriteString(" " + o.Type().String())
		}
	}
	if in.Attrs.Acc || in.Op.IsBackward() {
		b.WriteString(" += ")
	} else {
		b.WriteString(" = ")
	}
	b.WriteString(in.Op.String())
	for i, a := range in.Args {
		if i == 0 {
			b.WriteString(" ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(ref(a))
	}
	b.WriteString(attrText(in.Attrs))
	return b.String()
}

// attrText lists the attributes that are set, in a fixed order.
func attrText(a Attrs) string {
	var s []string
	if a.TransA {
		s = append(s, "transA")
	}
	if a.TransB {
		s = append(s, "transB")
	}
	if a.Eps != 0 {
		s = append(s, "eps="+fmtFloat(a.Eps))
	}
	if a.Heads != 0 {
		s = append(s, "heads="+strconv.Itoa(a.Heads))
	}
	if a.HeadDim != 0 {
		s = append(s, "head_dim="+strconv.Itoa(a.HeadDim))
	}
	if a.Causal {
		s = append(s, "causal")
	}
	if a.Act != "" {
		s = append(s, "act="+a.Act)
	}
	if a.MoE != nil {
		s = append(s, a.MoE.String()+" ws="+strconv.Itoa(a.MoE.Workspace))
	}
	if len(s) == 0 {
		return ""
	}
	return "  " + strings.Join(s, " ")
}

// String is the configuration of a moe layer, as Print shows it (followed
// there by its workspace, " ws=0"), e.g.
//
//	experts=8 hidden=256 act=gelu route=expert_choice(capacity=1, group=position)
//	experts=8 hidden=256 act=silu gated route=top_k(k=2, capacity=1.25, group=batch, aux=0.01, z=0.001)
func (m *MoEAttrs) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "experts=%d hidden=%d act=%s", m.Experts, m.Hidden, m.Act)
	if m.Gated {
		b.WriteString(" gated")
	}
	fmt.Fprintf(&b, " route=%s(", m.Rule)
	if m.Rule == RuleTopK {
		fmt.Fprintf(&b, "k=%d, ", m.K)
	}
	fmt.Fprintf(&b, "capacity=%s, group=%s", fmtFloat(m.Capacity), m.Group)
	if m.Fill {
		b.WriteString(", fill=top1")
	}
	if m.Causal {
		b.WriteString(", causal")
	}
	if m.AuxWeight != 0 {
		b.WriteString(", aux=" + fmtFloat(m.AuxWeight))
	}
	if m.ZWeight != 0 {
		b.WriteString(", z=" + fmtFloat(m.ZWeight))
	}
	b.WriteString(")")
	return b.String()
}
