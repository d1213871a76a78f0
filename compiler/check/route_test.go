package check

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/bfcdev/bfc/lang/source"
)

const moeSrc = `int batch = 4

block Sparse(d: dim, e: int, cap: real = 2) {
    norm layer post
    attn = attention(heads: 4)
    tk = moe(experts: e, hidden: 2 * d, route: top_k(leak: allow))
    tk1 = moe(experts: e, hidden: 3 * d, act: swiglu, route: top_k(k: 1, capacity: cap, group: position, aux: 0.001, zloss: 1e-3, drop: overflow), norm: rms, placement: pre)
    ec = moe(experts: e, hidden: d, route: expert_choice(capacity: cap, group: position, zloss: 0.5), residual: false)
    ecl = moe(experts: 2 * e, hidden: d, act: geglu, route: expert_choice(group: batch, capacity: 0.5, leak: allow), eps: 1e-3)
}

model M {
    input(batch: 8, seq: 16)
    embed(vocab: 100, dim: 32)
    repeat 1 Sparse(d: 32, e: 4)
    repeat 1 Sparse(d: 32, e: 8, cap: 1)
    norm rms
    head tied
    loss cross_entropy
}
`

// TestMoELayers checks the moe layers of a valid model field by field
// against values worked out by hand.
func TestMoELayers(t *testing.T) {
	res, diags := CheckSource(Config{}, "m.bf", []byte(moeSrc))
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:\n%v", diags)
	}
	m := res.Models[0]
	pos := func(line, col int) source.Pos {
		off := 0
		for range line - 1 {
			off += strings.IndexByte(moeSrc[off:], '\n') + 1
		}
		return source.Pos{File: "m.bf", Offset: off + col - 1, Line: line, Col: col}
	}
	// col returns the column of the first occurrence of s on line.
	col := func(line int, s string) source.Pos {
		text := strings.Split(moeSrc, "\n")[line-1]
		i := strings.Index(text, s)
		if i < 0 {
			t.Fatalf("line %d has no %q", line, s)
		}
		return pos(line, i+1)
	}
	sparse := func(i, e int, c float64) []Layer {
		name := func(sub string) string { return "blocks." + string(rune('0'+i)) + "." + sub }
		return []Layer{
			{Name: name("attn"), Block: "Sparse", Instance: i, Sub: "attn", Pos: pos(5, 5), Kind: "attention",
				Norm: "layer", Placement: "post", Eps: 1e-5, Residual: true, In: 32, Out: 32, Heads: 4, HeadDim: 8, Causal: true},
			{Name: name("tk"), Block: "Sparse", Instance: i, Sub: "tk", Pos: pos(6, 5), Kind: "moe",
				Norm: "layer", Placement: "post", Eps: 1e-5, Residual: true, In: 32, Out: 32, Hidden: 64, Act: "gelu", Experts: e,
				Route: Route{Rule: "top_k", Pos: col(6, "top_k"), Capacity: 1.25, Group: "batch", K: 2, AuxWeight: 0.01,
					Drop: "overflow", AllowLeak: true, CapacityPos: col(6, "top_k"), GroupPos: col(6, "top_k")}},
			{Name: name("tk1"), Block: "Sparse", Instance: i, Sub: "tk1", Pos: pos(7, 5), Kind: "moe",
				Norm: "rms", Placement: "pre", Eps: 1e-6, Residual: true, In: 32, Out: 32, Hidden: 96, Act: "swiglu", Experts: e,
				Route: Route{Rule: "top_k", Pos: col(7, "top_k"), Capacity: c, Group: "position", K: 1, AuxWeight: 0.001,
					ZWeight: 1e-3, Drop: "overflow", CapacityPos: col(7, "cap,"), GroupPos: col(7, "position")}},
			{Name: name("ec"), Block: "Sparse", Instance: i, Sub: "ec", Pos: pos(8, 5), Kind: "moe",
				Norm: "layer", Placement: "post", Eps: 1e-5, Residual: false, In: 32, Out: 32, Hidden: 32, Act: "gelu", Experts: e,
				Route: Route{Rule: "expert_choice", Pos: col(8, "expert_choice"), Capacity: c, Group: "position",
					ZWeight: 0.5, CapacityPos: col(8, "cap,"), GroupPos: col(8, "position")}},
			{Name: name("ecl"), Block: "Sparse", Instance: i, Sub: "ecl", Pos: pos(9, 5), Kind: "moe",
				Norm: "layer", Placement: "post", Eps: 1e-3, Residual: true, In: 32, Out: 32, Hidden: 32, Act: "geglu", Experts: 2 * e,
				Route: Route{Rule: "expert_choice", Pos: col(9, "expert_choice"), Capacity: 0.5, Group: "batch",
					AllowLeak: true, CapacityPos: col(9, "0.5"), GroupPos: col(9, "batch")}},
		}
	}
	want := append(sparse(0, 4, 2), sparse(1, 8, 1)...)
	if len(m.Layers) != len(want) {
		t.Fatalf("got %d layers, want %d", len(m.Layers), len(want))
	}
	for i, l := range m.Layers {
		if !reflect.DeepEqual(*l, want[i]) {
			t.Errorf("%s:\n got %+v\nwant %+v", want[i].Name, *l, want[i])
		}
	}
}

// TestRouteNotes checks the notes of the errors that need the whole
// model: the causal attention layer, the input statement and the block
// instance.
func TestRouteNotes(t *testing.T) {
	src := `block B(d: dim) {
    m = moe(experts: 64, hidden: d, route: expert_choice(capacity: 2, group: sequence))
}
block A(d: dim) {
    attn = attention(heads: 2)
}
model M {
    input(batch: 2, seq: 32)
    embed(vocab: 64, dim: 16)
    repeat 1 A(d: 16)
    repeat 3 B(d: 16)
    norm rms
    head tied
    loss cross_entropy
}
`
	_, diags := CheckSource(Config{}, "m.bf", []byte(src))
	var got []string
	for _, d := range diags {
		got = append(got, d.Code+" "+d.Error())
	}
	want := []string{
		"RouteLeak m.bf:2:78: expert choice over group: sequence leaks future tokens in causal model M: each expert's top-k competition spans later positions of the same sequence, so earlier tokens' outputs depend on future tokens; use group: position, or add leak: allow to accept the leak knowingly\n" +
			"\tm.bf:5:5: blocks.0.attn is causal attention\n" +
			"\tin blocks.1.m of model M (repeat at m.bf:11:5)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// One line, one diagnostic: with the leak accepted, k shows.
	src = strings.Replace(src, "capacity: 2, group: sequence", "capacity: 1, group: sequence, leak: allow", 1)
	_, diags = CheckSource(Config{}, "m.bf", []byte(src))
	got = nil
	for _, d := range diags {
		got = append(got, d.Code+" "+d.Error())
	}
	want = []string{
		"InvalidRoute m.bf:2:68: expert choice gives each expert k = floor(n·c/E) = floor(32·1/64) = 0 tokens (group: sequence holds seq = 32 tokens), so no expert takes any token; raise capacity to at least 2 (E/n), input seq to at least 64 (E/c), or use at most 32 experts\n" +
			"\tm.bf:8:5: model M declares input(batch: 2, seq: 32)\n" +
			"\tin blocks.1.m of model M (repeat at m.bf:11:5)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// top_k with its default k = 2 and group batch leaks too; the error is
	// at the rule, which has no group attribute to point at.
	src = strings.Replace(src, "expert_choice(capacity: 1, group: sequence, leak: allow)", "top_k(capacity: 2)", 1)
	_, diags = CheckSource(Config{}, "m.bf", []byte(src))
	got = nil
	for _, d := range diags {
		got = append(got, d.Code+" "+d.Error())
	}
	want = []string{
		"RouteLeak m.bf:2:44: top_k with k = 2 over the default group, batch, leaks future tokens in causal model M: every first choice of a group is placed before any second choice, so whether an earlier token's second choice still fits in an expert's capacity depends on the first choices of later positions of the same sequence; use group: position, or add leak: allow to accept the leak knowingly\n" +
			"\tm.bf:5:5: blocks.0.attn is causal attention\n" +
			"\tin blocks.1.m of model M (repeat at m.bf:11:5)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestRouteArithmetic checks the group sizes and the rounding of expert
// choice's k and top_k's capacity.
func TestRouteArithmetic(t *testing.T) {
	for _, tc := range []struct {
		group      string
		batch, seq int
		n          int
	}{
		{"batch", 8, 1024, 8192},
		{"sequence", 8, 1024, 1024},
		{"position", 8, 1024, 8},
	} {
		if got := (Route{Group: tc.group}).GroupSize(tc.batch, tc.seq); got != tc.n {
			t.Errorf("GroupSize(%s, %d, %d) = %d, want %d", tc.group, tc.batch, tc.seq, got, tc.n)
		}
	}
	for _, tc := range []struct {
		c       float64
		n, e, k int
	}{
		{1, 8, 8, 1},
		{1, 8, 16, 0},
		{2, 8, 16, 1},
		{1, 1024, 32, 32},
		{1.25, 10, 4, 3},   // 3.125 rounds down
		{0.5, 7, 2, 1},     // 1.75 rounds down
		{2, 1000, 3, 666},  // 666.67 rounds down
		{0.29, 100, 29, 1}, // 100·0.29/29 is 0.9999999999999999 in float64
		{0.57, 100, 3, 19}, // 18.999999999999996
		{1e300, 1 << 20, 1, 1 << 62},
	} {
		if got := (Route{Capacity: tc.c}).ExpertChoiceK(tc.n, tc.e); got != tc.k {
			t.Errorf("ExpertChoiceK(c=%g, n=%d, E=%d) = %d, want %d", tc.c, tc.n, tc.e, got, tc.k)
		}
	}
	for _, tc := range []struct {
		k       int
		c       float64
		n, e, C int
	}{
		{2, 1, 64, 32, 4},
		{2, 1.25, 64, 32, 5},
		{1, 1.25, 10, 4, 4},  // 3.125 rounds up
		{2, 0.01, 8, 64, 1},  // never below 1
		{2, 1.5, 6, 9, 2},    // exactly 2
		{1, 1, 1000, 3, 334}, // 333.33 rounds up
		{2, 0.07, 50, 1, 7},  // 2·50·0.07 is 7.000000000000001 in float64
	} {
		if got := (Route{K: tc.k, Capacity: tc.c}).TopKCapacity(tc.n, tc.e); got != tc.C {
			t.Errorf("TopKCapacity(k=%d, c=%g, n=%d, E=%d) = %d, want %d", tc.k, tc.c, tc.n, tc.e, got, tc.C)
		}
	}
}

// TestStdlibMoE builds a model from each sparse block of the standard
// library and checks its layers.
func TestStdlibMoE(t *testing.T) {
	for _, tc := range []struct {
		name, file, repeat string
		want               []string
	}{
		{
			name: "GLaM", file: "glam.bf", repeat: "repeat 2 GLaM(d: 64, heads: 4, experts: 8)",
			want: []string{
				"attn1 attention h4x16 causal",
				"moe moe E8 hidden 256 gelu top_k k2 c1.25 position aux0.01 z0 overflow",
				"attn2 attention h4x16 causal",
				"ffn ffn hidden 256 geglu",
			},
		},
		{
			name: "GLaM", file: "glam.bf", repeat: "repeat 1 GLaM(d: 64, heads: 2, experts: 4, hidden: 96, head_dim: 16, capacity: 2, aux: 0.1, zloss: 0.001)",
			want: []string{
				"attn1 attention h2x16 causal",
				"moe moe E4 hidden 96 gelu top_k k2 c2 position aux0.1 z0.001 overflow",
				"attn2 attention h2x16 causal",
				"ffn ffn hidden 96 geglu",
			},
		},
		{
			name: "Switch", file: "switch.bf", repeat: "repeat 2 Switch(d: 64, heads: 4, experts: 8)",
			want: []string{
				"attn attention h4x16 causal",
				"moe moe E8 hidden 256 relu top_k k1 c1.25 batch aux0.01 z0 overflow",
			},
		},
		{
			name: "Brainformer6", file: "brainformer.bf", repeat: "repeat 2 Brainformer6(d: 64, heads: 4, experts: 8)",
			want: []string{
				"attn attention h4x16 causal",
				"moe1 moe E8 hidden 128 gelu expert_choice c1 position z0",
				"ffn1 ffn hidden 128 geglu",
				"moe2 moe E8 hidden 128 gelu expert_choice c1 position z0",
				"ffn2 ffn hidden 128 geglu",
				"moe3 moe E8 hidden 128 gelu expert_choice c1 position z0",
			},
		},
		{
			name: "Brainformer8", file: "brainformer.bf", repeat: "repeat 2 Brainformer8(d: 64, heads: 4, experts: 8, capacity: 2, act: relu, ffn_act: swiglu)",
			want: []string{
				"attn1 attention h4x16 causal",
				"moe1 moe E8 hidden 128 relu expert_choice c2 position z0",
				"ffn1 ffn hidden 128 swiglu",
				"moe2 moe E8 hidden 128 relu expert_choice c2 position z0",
				"attn2 attention h4x16 causal",
				"moe3 moe E8 hidden 128 relu expert_choice c2 position z0",
				"ffn2 ffn hidden 128 swiglu",
				"moe4 moe E8 hidden 128 relu expert_choice c2 position z0",
			},
		},
	} {
		src := `import "std/` + tc.file + `"
model M {
    input(batch: 8, seq: 32)
    embed(vocab: 64, dim: 64)
    ` + tc.repeat + `
    norm rms
    head tied
    loss cross_entropy
}
`
		res, diags := CheckSource(Config{}, "m.bf", []byte(src))
		if len(diags) > 0 {
			t.Errorf("%s: unexpected diagnostics:\n%v", tc.repeat, diags)
			continue
		}
		var got []string
		for _, l := range res.Models[0].Layers {
			if l.Block != tc.name || l.Norm != "rms" || l.Placement != "pre" || !l.Residual || l.In != 64 || l.Out != 64 {
				t.Errorf("%s: %s: block %s, norm %s %s, residual %v, widths %d -> %d", tc.repeat, l.Name, l.Block, l.Norm, l.Placement, l.Residual, l.In, l.Out)
			}
			if l.Instance > 0 {
				continue
			}
			s := l.Sub + " " + l.Kind
			switch l.Kind {
			case "attention":
				s += fmt.Sprintf(" h%dx%d", l.Heads, l.HeadDim)
				if l.Causal {
					s += " causal"
				}
			case "ffn":
				s += fmt.Sprintf(" hidden %d %s", l.Hidden, l.Act)
			case "moe":
				r := l.Route
				s += fmt.Sprintf(" E%d hidden %d %s %s", l.Experts, l.Hidden, l.Act, r.Rule)
				if r.Rule == "top_k" {
					s += fmt.Sprintf(" k%d", r.K)
				}
				s += fmt.Sprintf(" c%g %s", r.Capacity, r.Group)
				if r.Rule == "top_k" {
					s += fmt.Sprintf(" aux%g", r.AuxWeight)
				}
				s += fmt.Sprintf(" z%g", r.ZWeight)
				if r.Drop != "" {
					s += " " + r.Drop
				}
			}
			got = append(got, s)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: layers of blocks.0:\n%s\nwant:\n%s", tc.repeat, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}
}

// TestStdlibBrainformerBatch checks the error a Brainformer model gets when
// its batch is too small for expert choice over group position: it points
// into the standard library, with notes at the user's input and repeat.
func TestStdlibBrainformerBatch(t *testing.T) {
	src := `import "std/brainformer.bf"
model M {
    input(batch: 8, seq: 32)
    embed(vocab: 64, dim: 64)
    repeat 3 Brainformer8(d: 64, heads: 4, experts: 32)
    norm rms
    head tied
    loss cross_entropy
}
`
	_, diags := CheckSource(Config{}, "m.bf", []byte(src))
	if len(diags) == 0 {
		t.Fatal("no diagnostics")
	}
	for _, d := range diags {
		if d.Code != InvalidRoute || d.Pos.File != "std/brainformer.bf" || !strings.Contains(d.Msg, "input batch to at least 32") ||
			len(d.Notes) != 2 || d.Notes[0].Pos.File != "m.bf" || d.Notes[0].Pos.Line != 3 || !strings.Contains(d.Notes[1].Msg, "repeat at m.bf:5:5") {
			t.Errorf("unexpected diagnostic: %v", d.Error())
		}
	}
}
