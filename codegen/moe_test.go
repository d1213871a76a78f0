package codegen_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/bfcdev/bfc/codegen"
	"github.com/bfcdev/bfc/compiler/ir"
	"github.com/bfcdev/bfc/compiler/plan"
	"github.com/bfcdev/bfc/compiler/plan/plantest"
)

func TestMoEGenerated(t *testing.T) {
	train := generate(t, "testdata/sparse/input.bf", codegen.Options{Package: "sparse"})[0].Data
	serve := generate(t, "testdata/sparse/input.bf", codegen.Options{Package: "serve", InferenceOnly: true})[0].Data
	for _, c := range []struct {
		name      string
		src       []byte
		want, not []string
	}{
		{"training", train, []string{
			"\t\"github.com/bfcdev/bfc/runtime/moe\"\n",
			"{Experts: 4, D: 8, Hidden: 16, Act: kernels.ActGELU, Rule: moe.ExpertChoice, Capacity: 2.0, Group: moe.GroupPosition, ZWeight: 0.001, MaxBatch: MaxBatch, MaxSeq: MaxSeq},",
			"Gated: true, Rule: moe.TopK, Capacity: 1.25, Group: moe.GroupBatch, K: 2, AuxWeight: 0.01, ZWeight: 0.001,",
			"\tmoe      []*moe.Workspace[float32]\n\tmoeInfer []*moe.Workspace[float32]\n",
			"\tif err = checkMoE(batch, seq); err != nil {\n\t\treturn 0, err\n\t}\n\tm.ready = false\n",
			"\tif err = checkMoE(batch, seq); err != nil {\n\t\treturn nil, err\n\t}\n",
			"\taux, err = moe.Forward(m.moe[0], ",
			"\taux, err = moe.Forward(m.moeInfer[1], ",
			"\t\treturn 0, fmt.Errorf(\"sparse: blocks.0.moe1: %w\", err)\n",
			"\t\treturn nil, fmt.Errorf(\"sparse: blocks.0.moe2: %w\", err)\n",
			"\tmoe.BackwardSet(m.moe[1], ",
			"\tm.aux += a[",
			"func (m *Model) Losses() (ce, aux float32) {",
			"func (m *Model) RoutingStats() []moe.LayerStats {\n\tout := make([]moe.LayerStats, len(m.moe))",
			"func (m *Model) Routes() []moe.LayerRoutes {\n\tout := make([]moe.LayerRoutes, len(m.moe))",
			"\t\tout[i] = moe.LayerRoutes{Name: moeNames[i], Routes: ws.Routes()}\n",
		}, nil},
		{"inference-only", serve, []string{
			"\tmoe []*moe.Workspace[float32]\n",
			"\taux, err = moe.Forward(m.moe[1], ",
			"func (m *Model) RoutingStats() []moe.LayerStats {",
			"func (m *Model) Routes() []moe.LayerRoutes {",
		}, []string{"moeInfer", "moe.Backward"}},
	} {
		for _, w := range c.want {
			if !bytes.Contains(c.src, []byte(w)) {
				t.Errorf("%s: output lacks %q", c.name, w)
			}
		}
		for _, w := range c.not {
			if bytes.Contains(c.src, []byte(w)) {
				t.Errorf("%s: output contains %q", c.name, w)
			}
		}
	}
}

// A dense model has Losses, an empty RoutingStats and Routes, and no moe state.
func TestDenseRouting(t *testing.T) {
	p, l := planned(t, plantest.Tiny())
	files, err := codegen.Generate(p, l, codegen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	src := files[0].Data
	for _, w := range []string{
		"func (m *Model) RoutingStats() []moe.LayerStats {\n\treturn nil\n}",
		"func (m *Model) Routes() []moe.LayerRoutes {\n\treturn nil\n}",
		"func (m *Model) Losses() (ce, aux float32) {",
		// plantest programs leave Program.CE unset: the loss is the cross-entropy.
		"\tm.ce = a[",
	} {
		if !bytes.Contains(src, []byte(w)) {
			t.Errorf("output lacks %q", w)
		}
	}
	for _, w := range []string{"moeConfigs", "checkMoE", "moe.Forward"} {
		if bytes.Contains(src, []byte(w)) {
			t.Errorf("dense output contains %q", w)
		}
	}
}

func TestMoEGenerateErrors(t *testing.T) {
	for _, c := range []struct {
		name   string
		break_ func(a *ir.MoEAttrs)
		want   string
	}{
		{"act", func(a *ir.MoEAttrs) { a.Act = "tanh" }, `moe: unknown activation "tanh"`},
		{"rule", func(a *ir.MoEAttrs) { a.Rule = "hash" }, `moe: unknown routing rule "hash"`},
		{"group", func(a *ir.MoEAttrs) { a.Group = "time" }, `moe: unknown routing group "time"`},
	} {
		p := compile(t, "testdata/sparse/input.bf", false)
		l, err := plan.Plan(p)
		if err != nil {
			t.Fatal(err)
		}
		c.break_(p.MoE()[0].Attrs.MoE)
		_, err = codegen.Generate(p, l, codegen.Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}
