package codegen

import (
	"bytes"
	"fmt"
	"go/format"
	"math"
	"strings"
	"unicode"

	"github.com/dave/jennifer/jen"

	"github.com/bfcdev/bfc/compiler/ir"
	"github.com/bfcdev/bfc/compiler/plan"
)

// File is one generated file.
type File struct {
	Name string // base name, e.g. "charlm.bf.go"
	Data []byte
}

// Options configure Generate.
type Options struct {
	// Package is the generated package's name (default: the model name in
	// lower case).
	Package string
	// DType is the element type: "float32" (default) or "float64" (for
	// finite-difference gradient checks).
	DType string
	// Precision is "float32" (default) or "bf16": matmuls, attention's
	// products and the moe experts' products take operands rounded to
	// bfloat16 with float32 sums (kernels.GemmBF16); everything else, the
	// parameters and the checkpoints stay float32. bf16 needs DType
	// float32.
	Precision string
	// InferenceOnly leaves out Backward and the gradient arena; Params'
	// Grad slices are nil.
	InferenceOnly bool
	// Source names the .bf file in the header, e.g. "charlm.bf".
	Source string
}

// Generate returns the Go package for p planned as l: one file named
// "<lower-case model name>.bf.go". It does no I/O; the output depends only
// on its arguments.
func Generate(p *ir.Program, l *plan.Layout, opts Options) ([]File, error) {
	g, err := newGen(p, l, opts)
	if err != nil {
		return nil, err
	}
	f := g.file()
	var buf bytes.Buffer
	if err := f.Render(&buf); err != nil {
		return nil, fmt.Errorf("codegen: model %s: %w", p.Name, err)
	}
	src, err := format.Source(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("codegen: model %s: formatting: %w\n%s", p.Name, err, buf.Bytes())
	}
	return []File{{Name: strings.ToLower(p.Name) + ".bf.go", Data: src}}, nil
}

// gen holds what every part of the generator needs.
type gen struct {
	p     *ir.Program
	l     *plan.Layout
	opts  Options
	pkg   string
	F     string // element type: float32 or float64
	bf16  bool   // bf16 precision (Options.Precision)
	train bool   // Backward and gradients are generated

	moes []*ir.Instr // the forward moe instructions, by workspace
	ce   *ir.Value   // the cross-entropy part of the loss (the loss itself in a dense model)
}

func newGen(p *ir.Program, l *plan.Layout, opts Options) (*gen, error) {
	if p == nil || l == nil {
		return nil, fmt.Errorf("codegen: nil program or layout")
	}
	g := &gen{p: p, l: l, opts: opts, pkg: opts.Package, F: opts.DType, train: !opts.InferenceOnly}
	if g.pkg == "" {
		g.pkg = packageName(p.Name)
	}
	if !validPackage(g.pkg) {
		return nil, fmt.Errorf("codegen: model %s: %q is not a valid package name; set one", p.Name, g.pkg)
	}
	switch g.F {
	case "":
		g.F = "float32"
	case "float32", "float64":
	default:
		return nil, fmt.Errorf("codegen: dtype %q: want float32 or float64", g.F)
	}
	switch opts.Precision {
	case "", "float32":
	case "bf16":
		if g.F != "float32" {
			return nil, fmt.Errorf("codegen: precision bf16 needs dtype float32, not %s", g.F)
		}
		g.bf16 = true
	default:
		return nil, fmt.Errorf("codegen: precision %q: want float32 or bf16", opts.Precision)
	}
	if err := g.validate(); err != nil {
		return nil, err
	}
	g.moes = p.MoE()
	g.ce = p.CE
	if g.ce == nil {
		g.ce = p.Loss
	}
	return g, nil
}

// validate checks that p has what the generated API needs and that l was
// planned for it.
func (g *gen) validate() error {
	p, l := g.p, g.l
	if strings.TrimSpace(p.Name) == "" {
		return fmt.Errorf("codegen: model without a name")
	}
	if p.Tokens == nil || p.Targets == nil || p.Logits == nil || p.Loss == nil {
		return fmt.Errorf("codegen: model %s: tokens, targets, logits and loss must all be set", p.Name)
	}
	if p.Logits.Rows != ir.TokenRows || p.Logits.Cols != p.Vocab {
		return fmt.Errorf("codegen: model %s: logits are %v, want [T,%d]", p.Name, p.Logits.Type(), p.Vocab)
	}
	n := len(p.Values)
	if len(l.Params.Off) != n || len(l.Train.Off) != n || len(l.Infer.Off) != n || len(l.Eval.Off) != n ||
		len(l.Train.Zero) != len(p.Forward)+len(p.Backward) || l.MaxTokens != p.MaxBatch*p.MaxSeq {
		return fmt.Errorf("codegen: model %s: the layout was not planned for this program", p.Name)
	}
	if l.Fused != nil && len(l.Fused) != len(p.Forward) {
		return fmt.Errorf("codegen: model %s: the layout was not planned for this program", p.Name)
	}
	for i, f := range l.Fused {
		if f && (i+1 >= len(p.Forward) || !plan.Fusable(p.Forward[i], p.Forward[i+1])) {
			return fmt.Errorf("codegen: model %s: the layout fuses forward instructions %d and %d, which have no fused kernel", p.Name, i, i+1)
		}
	}
	if g.train && len(p.Backward) == 0 {
		return fmt.Errorf("codegen: model %s has no backward pass; differentiate it or generate an inference-only package", p.Name)
	}
	if l.Infer.Offset(p.Logits) < 0 {
		return fmt.Errorf("codegen: model %s: the inference pass does not compute the logits", p.Name)
	}
	for _, list := range [][]*ir.Instr{p.Forward, p.Backward} {
		for _, in := range list {
			switch in.Op {
			case ir.OpAct, ir.OpGLU, ir.OpActGrad, ir.OpGLUGrad:
				if _, ok := actNames[in.Attrs.Act]; !ok {
					return fmt.Errorf("codegen: %s: %s: unknown activation %q", in.Pos, in.Op, in.Attrs.Act)
				}
			case ir.OpMoE, ir.OpMoEGrad:
				a := in.Attrs.MoE
				if a == nil {
					return fmt.Errorf("codegen: %s: %s without moe attributes", in.Pos, in.Op)
				}
				if _, ok := actNames[a.Act]; !ok {
					return fmt.Errorf("codegen: %s: %s: unknown activation %q", in.Pos, in.Op, a.Act)
				}
				if _, ok := moeRules[a.Rule]; !ok {
					return fmt.Errorf("codegen: %s: %s: unknown routing rule %q", in.Pos, in.Op, a.Rule)
				}
				if _, ok := moeGroups[a.Group]; !ok {
					return fmt.Errorf("codegen: %s: %s: unknown routing group %q", in.Pos, in.Op, a.Group)
				}
			}
		}
	}
	for _, c := range p.Consts {
		if c.Type == "real" && (math.IsNaN(c.Real) || math.IsInf(c.Real, 0)) {
			return fmt.Errorf("codegen: %s: constant %s is %v", c.Pos, c.Name, c.Real)
		}
	}
	return nil
}

// file assembles the generated file.
func (g *gen) file() *jen.File {
	f := jen.NewFile(g.pkg)
	f.ImportName(kernelsPath, "kernels")
	f.ImportName(tensorPath, "tensor")
	f.ImportName(safetensorsPath, "safetensors")
	f.ImportName(moePath, "moe")
	f.HeaderComment("Code generated by bfc build. DO NOT EDIT.")
	src := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1 // a comment must stay on its line
		}
		return r
	}, g.opts.Source)
	if src == "" {
		src = "-"
	}
	if g.bf16 {
		f.HeaderComment(fmt.Sprintf("Source: %s, model %s, precision bf16.", src, g.p.Name))
	} else {
		f.HeaderComment(fmt.Sprintf("Source: %s, model %s.", src, g.p.Name))
	}
	f.PackageComment(fmt.Sprintf("Package %s is the model %s, generated by bfc from %s.", g.pkg, g.p.Name, src))
	f.PackageComment("")
	if g.train {
		f.PackageComment("New allocates a model once; a training step is Forward then Backward, then an")
		f.PackageComment("optimizer step over Params. Infer computes logits on separate buffers.")
	} else {
		f.PackageComment("This is an inference-only build: it has no Backward and no gradients.")
	}

	g.consts(f)
	g.moeLayers(f)
	g.model(f)
	g.forward(f)
	if g.train {
		g.backward(f)
	}
	g.infer(f)
	g.decoder(f)
	g.check(f)
	g.params(f)
	g.routing(f)
	g.routes(f)
	g.checkpoint(f)
	return f
}

// numParams is the total number of parameter elements.
func (g *gen) numParams() int {
	n := 0
	for _, v := range g.p.Params {
		n += v.Rows.N * v.Cols
	}
	return n
}

func (g *gen) consts(f *jen.File) {
	p := g.p
	f.Comment(fmt.Sprintf("Dimensions of %s. Batch size and sequence length are chosen per call, up to", p.Name))
	f.Comment("MaxBatch and MaxSeq.")
	f.Const().Defs(
		jen.Id("Vocab").Op("=").Lit(p.Vocab),
		jen.Id("D").Op("=").Lit(p.D),
		jen.Id("MaxBatch").Op("=").Lit(p.MaxBatch),
		jen.Id("MaxSeq").Op("=").Lit(p.MaxSeq),
		jen.Id("MaxTokens").Op("=").Id("MaxBatch").Op("*").Id("MaxSeq"),
		jen.Comment("NumParams is the number of trainable parameters."),
		jen.Id("NumParams").Op("=").Lit(g.numParams()),
	)

	taken := map[string]bool{}
	for _, n := range reserved {
		taken[n] = true
	}
	var defs []jen.Code
	for _, c := range p.Consts {
		name := exportName(c.Name)
		if name == "" || taken[name] {
			continue
		}
		taken[name] = true
		var val *jen.Statement
		switch c.Type {
		case "real":
			val = jen.Lit(c.Real)
		case "bool":
			val = jen.Lit(c.Bool)
		default:
			val = jen.Lit(int(c.Int))
		}
		defs = append(defs, jen.Id(name).Op("=").Add(val).Comment(c.Name+" "+c.Type))
	}
	if len(defs) > 0 {
		f.Line()
		f.Comment(fmt.Sprintf("Constants of %s, as built.", p.Name))
		f.Const().Defs(defs...)
	}

	f.Line()
	f.Comment("Arena sizes in elements, planned at compile time.")
	sizes := []jen.Code{
		jen.Id("modelName").Op("=").Lit(p.Name),
		jen.Id("paramSize").Op("=").Lit(g.l.Params.Size).Comment("parameters, in declaration order"),
	}
	if g.train {
		sizes = append(sizes,
			jen.Id("gradSize").Op("=").Lit(g.l.Grads.Size).Comment("their gradients"),
			jen.Id("trainSize").Op("=").Lit(g.l.Train.Size).Comment("Forward's activations and Backward's activation gradients"),
			jen.Id("inferSize").Op("=").Lit(g.l.Infer.Size).Comment("Infer's activations"),
		)
	} else {
		sizes = append(sizes,
			jen.Id("workSize").Op("=").Lit(max(g.l.Eval.Size, g.l.Infer.Size)).Comment("activations of Forward or Infer"),
		)
	}
	f.Const().Defs(sizes...)
}

// paramSlice is m.params[off:end:end] (or m.grads) for parameter v.
func (g *gen) paramSlice(arena string, a *plan.Arena, v *ir.Value) *jen.Statement {
	off := a.Offset(v)
	end := off + v.Rows.N*v.Cols
	return jen.Id("m").Dot(arena).Index(jen.Lit(off), jen.Lit(end), jen.Lit(end))
}

func (g *gen) paramType() *jen.Statement {
	return jen.Qual(tensorPath, "Param").Types(jen.Id(g.F))
}

func (g *gen) model(f *jen.File) {
	p := g.p
	f.Line()
	f.Comment("Options configure New.")
	f.Type().Id("Options").Struct(
		jen.Comment("Seed seeds the parameter initialisation; equal seeds give equal models."),
		jen.Id("Seed").Uint64(),
	)

	f.Line()
	f.Comment(fmt.Sprintf("Model is %s: its parameters and every buffer its passes use, allocated", p.Name))
	f.Comment("once by New. A Model is not safe for concurrent use.")
	fields := []jen.Code{
		jen.Id("params").Index().Id(g.F).Comment("paramSize"),
	}
	if g.train {
		fields = append(fields,
			jen.Id("grads").Index().Id(g.F).Comment("gradSize, same layout as params"),
			jen.Id("train").Index().Id(g.F).Comment("trainSize"),
			jen.Id("infer").Index().Id(g.F).Comment("inferSize"),
			jen.Line(),
			jen.Comment("What Forward leaves for Backward."),
			jen.Id("tokens").Index().Int32(),
			jen.Id("targets").Index().Int32(),
			jen.List(jen.Id("batch"), jen.Id("seq")).Int(),
			jen.Id("ready").Bool().Comment("a Forward succeeded and no Backward consumed it yet"),
		)
	} else {
		fields = append(fields,
			jen.Id("work").Index().Id(g.F).Comment("workSize, shared by Forward and Infer"),
		)
	}
	fields = append(fields, jen.Line(), jen.Id("list").Index().Add(g.paramType()).Comment("what Params returns"))
	fields = append(fields, jen.Line(), jen.Comment("The parts of the loss of the last Forward (Losses)."),
		jen.List(jen.Id("ce"), jen.Id("aux")).Id(g.F))
	if len(g.moes) > 0 {
		ws := jen.Index().Op("*").Qual(moePath, "Workspace").Types(jen.Id(g.F))
		if g.train {
			fields = append(fields, jen.Line(),
				jen.Comment("The routing state of each moe layer: what Forward leaves for Backward, and"),
				jen.Comment("Infer's own, so that Infer does not disturb training."),
				jen.Id("moe").Add(ws.Clone()),
				jen.Id("moeInfer").Add(ws))
		} else {
			fields = append(fields, jen.Line(),
				jen.Comment("The routing state of each moe layer, shared by Forward and Infer."),
				jen.Id("moe").Add(ws))
		}
	}
	f.Type().Id("Model").Struct(fields...)

	f.Line()
	f.Comment("New returns a model whose parameters are initialised deterministically from")
	f.Comment("opts.Seed.")
	f.Func().Id("New").Params(jen.Id("opts").Id("Options")).Op("*").Id("Model").Block(
		jen.Id("m").Op(":=").Id("newModel").Call(),
		jen.Id("m").Dot("init").Call(jen.Id("opts").Dot("Seed")),
		jen.Return(jen.Id("m")),
	)

	// newModel allocates the arenas and the parameter list.
	alloc := []jen.Code{
		jen.Id("params").Op(":").Make(jen.Index().Id(g.F), jen.Id("paramSize")),
	}
	if g.train {
		alloc = append(alloc,
			jen.Id("grads").Op(":").Make(jen.Index().Id(g.F), jen.Id("gradSize")),
			jen.Id("train").Op(":").Make(jen.Index().Id(g.F), jen.Id("trainSize")),
			jen.Id("infer").Op(":").Make(jen.Index().Id(g.F), jen.Id("inferSize")),
			jen.Id("tokens").Op(":").Make(jen.Index().Int32(), jen.Id("MaxTokens")),
			jen.Id("targets").Op(":").Make(jen.Index().Int32(), jen.Id("MaxTokens")),
		)
	} else {
		alloc = append(alloc,
			jen.Id("work").Op(":").Make(jen.Index().Id(g.F), jen.Id("workSize")),
		)
	}
	if len(g.moes) > 0 {
		alloc = append(alloc, jen.Id("moe").Op(":").Id("newWorkspaces").Call())
		if g.train {
			alloc = append(alloc, jen.Id("moeInfer").Op(":").Id("newWorkspaces").Call())
		}
	}
	var list []jen.Code
	for _, v := range p.Params {
		fields := []jen.Code{
			jen.Id("Name").Op(":").Lit(v.Name),
			jen.Id("Shape").Op(":").Index().Int().ValuesFunc(func(gr *jen.Group) {
				for _, d := range v.Shape {
					gr.Lit(d)
				}
			}),
			jen.Id("Data").Op(":").Add(g.paramSlice("params", &g.l.Params, v)),
		}
		if g.train {
			fields = append(fields, jen.Id("Grad").Op(":").Add(g.paramSlice("grads", &g.l.Grads, v.Grad)))
		}
		fields = append(fields, jen.Id("Decay").Op(":").Lit(v.Decay))
		list = append(list, jen.Values(fields...))
	}
	f.Line()
	f.Comment("newModel allocates a model with zero parameters.")
	f.Func().Id("newModel").Params().Op("*").Id("Model").Block(
		jen.Id("m").Op(":=").Op("&").Id("Model").Add(multi(alloc...)),
		jen.Id("m").Dot("list").Op("=").Index().Add(g.paramType()).Add(multi(list...)),
		jen.Return(jen.Id("m")),
	)

	// init draws the parameters.
	var body []jen.Code
	usesRNG := false
	for _, v := range p.Params {
		data := jen.Id("w").Index(jen.Lit(g.l.Params.Offset(v)), jen.Lit(g.l.Params.Offset(v)+v.Rows.N*v.Cols))
		var call *jen.Statement
		switch v.Init.Kind {
		case "normal":
			usesRNG = true
			call = jen.Qual(tensorPath, "InitNormal").Call(data, jen.Lit(v.Init.Std), jen.Id("r"))
		case "ones":
			call = jen.Qual(tensorPath, "InitOnes").Call(data)
		default:
			call = jen.Qual(tensorPath, "InitZeros").Call(data)
		}
		body = append(body, call.Comment(v.Name))
	}
	head := []jen.Code{jen.Id("w").Op(":=").Id("m").Dot("params")}
	if usesRNG {
		head = append(head, jen.Id("r").Op(":=").Qual(tensorPath, "NewRNG").Call(jen.Id("seed")))
	} else {
		head = append(head, jen.Id("_").Op("=").Id("seed"))
	}
	f.Line()
	f.Comment("init draws every parameter from its initialiser, in declaration order.")
	f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id("init").Params(jen.Id("seed").Uint64()).Block(append(head, body...)...)
}

func (g *gen) params(f *jen.File) {
	f.Line()
	f.Comment("Params returns the model's parameters in declaration order, named as in")
	f.Comment("checkpoints. Data and Grad are views of the model's buffers: an optimizer")
	if g.train {
		f.Comment("updates Data in place from Grad. The slice is the model's own; do not")
		f.Comment("modify it.")
	} else {
		f.Comment("may update Data in place. Grad is nil in this inference-only build. The")
		f.Comment("slice is the model's own; do not modify it.")
	}
	f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id("Params").Params().Index().Add(g.paramType()).Block(
		jen.Return(jen.Id("m").Dot("list")),
	)
}

// multi renders a composite literal's braces with one element per line.
func multi(items ...jen.Code) *jen.Statement {
	return jen.Custom(jen.Options{Open: "{", Close: "}", Separator: ",", Multi: true}, items...)
}

// moeLayers emits the configuration of every moe layer and the functions
// that use it; nothing for a dense model.
func (g *gen) moeLayers(f *jen.File) {
	if len(g.moes) == 0 {
		return
	}
	mq := func(name string) *jen.Statement { return jen.Qual(moePath, name) }
	var names, configs []jen.Code
	for _, in := range g.moes {
		a := in.Attrs.MoE
		names = append(names, jen.Lit(a.Name))
		fields := []jen.Code{
			jen.Id("Experts").Op(":").Lit(a.Experts),
			jen.Id("D").Op(":").Lit(in.Args[0].Cols),
			jen.Id("Hidden").Op(":").Lit(a.Hidden),
			jen.Id("Act").Op(":").Add(act(a.Act)),
		}
		if a.Gated {
			fields = append(fields, jen.Id("Gated").Op(":").True())
		}
		fields = append(fields,
			jen.Id("Rule").Op(":").Add(mq(moeRules[a.Rule])),
			jen.Id("Capacity").Op(":").Lit(a.Capacity),
			jen.Id("Group").Op(":").Add(mq(moeGroups[a.Group])),
		)
		if a.Rule == ir.RuleTopK {
			fields = append(fields, jen.Id("K").Op(":").Lit(a.K))
		}
		if a.Fill {
			fields = append(fields, jen.Id("Fill").Op(":").True())
		}
		if a.Causal {
			fields = append(fields, jen.Id("Causal").Op(":").True())
		}
		if g.bf16 {
			fields = append(fields, jen.Id("BF16").Op(":").True())
		}
		if a.AuxWeight != 0 {
			fields = append(fields, jen.Id("AuxWeight").Op(":").Lit(a.AuxWeight))
		}
		if a.ZWeight != 0 {
			fields = append(fields, jen.Id("ZWeight").Op(":").Lit(a.ZWeight))
		}
		fields = append(fields, jen.Id("MaxBatch").Op(":").Id("MaxBatch"), jen.Id("MaxSeq").Op(":").Id("MaxSeq"))
		configs = append(configs, jen.Comment(a.Name+": "+a.String()).Line().Values(fields...))
	}
	f.Line()
	f.Comment("The moe layers, in order: their names and routing configurations.")
	f.Var().Defs(
		jen.Id("moeNames").Op("=").Index(jen.Op("...")).String().Add(multi(names...)),
		jen.Id("moeConfigs").Op("=").Index(jen.Op("...")).Qual(moePath, "Config").Add(multi(configs...)),
	)

	ws := jen.Index().Op("*").Qual(moePath, "Workspace").Types(jen.Id(g.F))
	f.Line()
	f.Comment("newWorkspaces allocates the routing state of every moe layer.")
	f.Func().Id("newWorkspaces").Params().Add(ws.Clone()).Block(
		jen.Id("ws").Op(":=").Make(ws, jen.Len(jen.Id("moeConfigs"))),
		jen.For(jen.Id("i").Op(":=").Range().Id("ws")).Block(
			jen.Id("ws").Index(jen.Id("i")).Op("=").Qual(moePath, "NewWorkspace").Types(jen.Id(g.F)).Call(jen.Id("moeConfigs").Index(jen.Id("i"))),
		),
		jen.Return(jen.Id("ws")),
	)

	f.Line()
	f.Comment("checkMoE validates a batch shape for the moe layers: expert choice needs")
	f.Comment("routing groups large enough for every expert to take at least one token.")
	f.Func().Id("checkMoE").Params(jen.List(jen.Id("batch"), jen.Id("seq")).Int()).Error().Block(
		jen.For(jen.Id("i").Op(":=").Range().Id("moeConfigs")).Block(
			jen.If(jen.Err().Op(":=").Id("moeConfigs").Index(jen.Id("i")).Dot("CheckShape").Call(jen.Id("batch"), jen.Id("seq")), jen.Err().Op("!=").Nil()).Block(
				jen.Return(jen.Qual("fmt", "Errorf").Call(jen.Lit(g.pkg+": %s: %w"), jen.Id("moeNames").Index(jen.Id("i")), jen.Err())),
			),
		),
		jen.Return(jen.Nil()),
	)
}

// routing emits Losses and RoutingStats.
func (g *gen) routing(f *jen.File) {
	f.Line()
	f.Comment("Losses returns the parts of the loss the last successful Forward returned: the")
	f.Comment("mean cross-entropy and the sum of the moe layers' weighted router losses")
	f.Comment("(load balancing and z-loss; 0 in a model without them). Their sum is the")
	f.Comment("loss, up to rounding.")
	f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id("Losses").Params().Params(jen.List(jen.Id("ce"), jen.Id("aux")).Id(g.F)).Block(
		jen.Return(jen.Id("m").Dot("ce"), jen.Id("m").Dot("aux")),
	)

	ret := jen.Index().Qual(moePath, "LayerStats")
	f.Line()
	f.Comment("RoutingStats returns the routing statistics of every moe layer, named by layer")
	if g.train {
		f.Comment("and in order, as the last Forward left them (Infer keeps its own). It is empty")
	} else {
		f.Comment("and in order, as the last Forward or Infer left them. It is empty")
	}
	f.Comment("for a model without moe layers.")
	if len(g.moes) == 0 {
		f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id("RoutingStats").Params().Add(ret).Block(
			jen.Return(jen.Nil()),
		)
		return
	}
	f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id("RoutingStats").Params().Add(ret.Clone()).Block(
		jen.Id("out").Op(":=").Make(ret, jen.Len(jen.Id("m").Dot("moe"))),
		jen.For(jen.List(jen.Id("i"), jen.Id("ws")).Op(":=").Range().Id("m").Dot("moe")).Block(
			jen.Id("out").Index(jen.Id("i")).Op("=").Qual(moePath, "LayerStats").Values(
				jen.Id("Name").Op(":").Id("moeNames").Index(jen.Id("i")),
				jen.Id("Stats").Op(":").Id("ws").Dot("Stats").Call(),
			),
		),
		jen.Return(jen.Id("out")),
	)
}

// routes emits Routes.
func (g *gen) routes(f *jen.File) {
	ret := jen.Index().Qual(moePath, "LayerRoutes")
	f.Line()
	f.Comment("Routes returns the routing decisions of every moe layer, named by layer and in")
	if g.train {
		f.Comment("order, as the last Forward left them (Infer keeps its own): the tokens each")
	} else {
		f.Comment("order, as the last Forward or Infer left them: the tokens each")
	}
	f.Comment("expert took and the top-k choices dropped (see moe.Workspace.Routes). It")
	f.Comment("allocates, and is empty for a model without moe layers.")
	if len(g.moes) == 0 {
		f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id("Routes").Params().Add(ret).Block(
			jen.Return(jen.Nil()),
		)
		return
	}
	f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id("Routes").Params().Add(ret.Clone()).Block(
		jen.Id("out").Op(":=").Make(ret, jen.Len(jen.Id("m").Dot("moe"))),
		jen.For(jen.List(jen.Id("i"), jen.Id("ws")).Op(":=").Range().Id("m").Dot("moe")).Block(
			jen.Id("out").Index(jen.Id("i")).Op("=").Qual(moePath, "LayerRoutes").Values(
				jen.Id("Name").Op(":").Id("moeNames").Index(jen.Id("i")),
				jen.Id("Routes").Op(":").Id("ws").Dot("Routes").Call(),
			),
		),
		jen.Return(jen.Id("out")),
	)
}
