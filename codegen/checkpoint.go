package codegen

import (
	"github.com/dave/jennifer/jen"
)

// checkpoint emits Save, the Load method and the Load function.
func (g *gen) checkpoint(f *jen.File) {
	dtype, from, to := "F32", "FromFloat32", "Float32"
	if g.F == "float64" {
		dtype, from, to = "F64", "FromFloat64", "Float64"
	}
	st := func(name string) *jen.Statement { return jen.Qual(safetensorsPath, name) }
	errf := func(format string, args ...jen.Code) *jen.Statement {
		return jen.Qual("fmt", "Errorf").Call(append([]jen.Code{jen.Lit(format)}, args...)...)
	}
	path := jen.Id("path")
	name := jen.Id("p").Dot("Name")

	f.Line()
	f.Comment("Save writes the parameters to path as a safetensors file, atomically: a crash")
	f.Comment("leaves either the previous file or the new one. Tensors are named as in")
	f.Comment("Params and stored with their logical shapes as " + dtype + ".")
	f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id("Save").Params(jen.Id("path").String()).Error().Block(
		jen.Id("ts").Op(":=").Make(jen.Index().Add(st("Tensor")), jen.Len(jen.Id("m").Dot("list"))),
		jen.For(jen.List(jen.Id("i"), jen.Id("p")).Op(":=").Range().Id("m").Dot("list")).Block(
			jen.Id("ts").Index(jen.Id("i")).Op("=").Add(st(from)).Call(name, jen.Id("p").Dot("Shape"), jen.Id("p").Dot("Data")),
		),
		jen.Return(st("Save").Call(jen.Id("path"), jen.Id("ts"), jen.Map(jen.String()).String().Values(
			jen.Lit("bfc.model").Op(":").Id("modelName"),
			jen.Lit("bfc.format").Op(":").Lit("1"),
		))),
	)

	f.Line()
	f.Comment("Load replaces the parameters with those of the safetensors file at path. It")
	f.Comment("refuses, changing nothing, a file saved from another model, or missing a")
	f.Comment("parameter, or holding an unknown tensor, or one of the wrong dtype or shape.")
	f.Comment("A training checkpoint of runtime/train loads too; its optimizer state is ignored.")
	f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id("Load").Params(jen.Id("path").String()).Error().Block(
		jen.List(jen.Id("f"), jen.Err()).Op(":=").Add(st("Load")).Call(jen.Id("path")),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err())),
		jen.If(jen.List(jen.Id("got"), jen.Id("ok")).Op(":=").Id("f").Dot("Metadata").Index(jen.Lit("bfc.model")),
			jen.Id("ok").Op("&&").Id("got").Op("!=").Id("modelName")).Block(
			jen.Return(errf("%s: a checkpoint of model %q, not %s", path.Clone(), jen.Id("got"), jen.Id("modelName")))),
		jen.If(jen.List(jen.Id("got"), jen.Id("ok")).Op(":=").Id("f").Dot("Metadata").Index(jen.Lit("bfc.format")),
			jen.Id("ok").Op("&&").Id("got").Op("!=").Lit("1")).Block(
			jen.Return(errf("%s: checkpoint format %q, want 1", path.Clone(), jen.Id("got")))),
		jen.Id("data").Op(":=").Make(jen.Index().Index().Id(g.F), jen.Len(jen.Id("m").Dot("list"))),
		jen.For(jen.List(jen.Id("i"), jen.Id("p")).Op(":=").Range().Id("m").Dot("list")).Block(
			jen.List(jen.Id("t"), jen.Id("ok")).Op(":=").Id("f").Dot("Get").Call(name.Clone()),
			jen.If(jen.Op("!").Id("ok")).Block(
				jen.Return(errf("%s: no tensor %q", path.Clone(), name.Clone()))),
			jen.If(jen.Id("t").Dot("DType").Op("!=").Lit(dtype)).Block(
				jen.Return(errf("%s: tensor %q has dtype %s, want "+dtype, path.Clone(), name.Clone(), jen.Id("t").Dot("DType")))),
			jen.If(jen.Op("!").Id("sameShape").Call(jen.Id("t").Dot("Shape"), jen.Id("p").Dot("Shape"))).Block(
				jen.Return(errf("%s: tensor %q has shape %v, want %v", path.Clone(), name.Clone(), jen.Id("t").Dot("Shape"), jen.Id("p").Dot("Shape")))),
			jen.List(jen.Id("x"), jen.Err()).Op(":=").Id("t").Dot(to).Call(),
			jen.If(jen.Err().Op("!=").Nil()).Block(
				jen.Return(errf("%s: %w", path.Clone(), jen.Err()))),
			jen.Id("data").Index(jen.Id("i")).Op("=").Id("x"),
		),
		jen.Comment("A training checkpoint (runtime/train) also holds the optimizer's state."),
		jen.List(jen.Id("_"), jen.Id("training")).Op(":=").Id("f").Dot("Metadata").Index(jen.Lit("bfc.train.format")),
		jen.For(jen.List(jen.Id("_"), jen.Id("t")).Op(":=").Range().Id("f").Dot("Tensors")).Block(
			jen.If(jen.Id("training").Op("&&").Qual("strings", "HasPrefix").Call(jen.Id("t").Dot("Name"), jen.Lit("train."))).Block(jen.Continue()),
			jen.If(jen.Op("!").Id("m").Dot("has").Call(jen.Id("t").Dot("Name"))).Block(
				jen.Return(errf("%s: tensor %q is not a parameter of %s", path.Clone(), jen.Id("t").Dot("Name"), jen.Id("modelName")))),
		),
		jen.For(jen.List(jen.Id("i"), jen.Id("p")).Op(":=").Range().Id("m").Dot("list")).Block(
			jen.Copy(jen.Id("p").Dot("Data"), jen.Id("data").Index(jen.Id("i"))),
		),
		jen.Return(jen.Nil()),
	)

	f.Line()
	f.Comment("has reports whether the model has a parameter called name.")
	f.Func().Params(jen.Id("m").Op("*").Id("Model")).Id("has").Params(jen.Id("name").String()).Bool().Block(
		jen.For(jen.List(jen.Id("_"), jen.Id("p")).Op(":=").Range().Id("m").Dot("list")).Block(
			jen.If(jen.Id("p").Dot("Name").Op("==").Id("name")).Block(jen.Return(jen.True())),
		),
		jen.Return(jen.False()),
	)

	f.Line()
	f.Comment("sameShape reports whether two shapes are equal.")
	f.Func().Id("sameShape").Params(jen.List(jen.Id("a"), jen.Id("b")).Index().Int()).Bool().Block(
		jen.If(jen.Len(jen.Id("a")).Op("!=").Len(jen.Id("b"))).Block(jen.Return(jen.False())),
		jen.For(jen.Id("i").Op(":=").Range().Id("a")).Block(
			jen.If(jen.Id("a").Index(jen.Id("i")).Op("!=").Id("b").Index(jen.Id("i"))).Block(jen.Return(jen.False())),
		),
		jen.Return(jen.True()),
	)

	f.Line()
	f.Comment("Load returns the model saved at path (see Model.Load).")
	f.Func().Id("Load").Params(jen.Id("path").String()).Params(jen.Op("*").Id("Model"), jen.Error()).Block(
		jen.Id("m").Op(":=").Id("newModel").Call(),
		jen.If(jen.Err().Op(":=").Id("m").Dot("Load").Call(jen.Id("path")), jen.Err().Op("!=").Nil()).Block(
			jen.Return(jen.Nil(), jen.Err())),
		jen.Return(jen.Id("m"), jen.Nil()),
	)
}
