package check

import (
	"fmt"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/bfcdev/bfc/lang/source"
	"github.com/bfcdev/bfc/stdlib"
)

// mapFiles serves user files from memory.
func mapFiles(files map[string]string) func(string) ([]byte, error) {
	return func(p string) ([]byte, error) {
		if s, ok := files[p]; ok {
			return []byte(s), nil
		}
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
}

const expandSrc = `import "lib.bf"

dim d = 96
int heads = 4
int unused = 7

block Mixed(d: dim, heads: int, act: act = gelu) {
    dim hd = d / heads
    norm layer post
    attn = attention(heads: heads)
    local = attention(heads: 2, head_dim: hd, causal: false, norm: rms, placement: pre)
    ff = ffn(hidden: 3 * d, act: act, eps: eps)
}

block Out(d: dim) {
    norm none
    up = ffn(hidden: 2 * d, out: d + 64, residual: false, act: relu)
}

model M {
    int layers = 1
    dim vocab = 300
    input(batch: 2, seq: 16)
    embed(vocab: vocab, dim: d, pos: none)
    repeat layers [Mixed(d: d, heads: heads), Mixed(d: d, heads: 8, act: swiglu)]
    repeat 1 Out(d: d)
    norm layer
    head untied
    loss cross_entropy
}
`

// TestExpand checks a valid model's expansion field by field against
// values worked out by hand, with overrides of a file-level and a model
// constant.
func TestExpand(t *testing.T) {
	cfg := Config{
		ReadFile:  mapFiles(map[string]string{"lib.bf": "real eps = 1e-4\n"}),
		Overrides: map[string]string{"d": "128", "M.layers": "2"},
	}
	res, diags := CheckSource(cfg, "x.bf", []byte(expandSrc))
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:\n%v", diags)
	}
	if len(res.Files) != 2 || res.Files[0].Name != "x.bf" || res.Files[1].Name != "lib.bf" {
		t.Errorf("Files = %v, want x.bf then lib.bf", fileNames(res))
	}
	if len(res.Models) != 1 {
		t.Fatalf("got %d models, want 1", len(res.Models))
	}
	m := res.Models[0]
	pos := func(line, col int) source.Pos {
		off := 0
		for range line - 1 {
			off += strings.IndexByte(expandSrc[off:], '\n') + 1
		}
		return source.Pos{File: "x.bf", Offset: off + col - 1, Line: line, Col: col}
	}

	check := func(what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check("Name", m.Name, "M")
	check("Pos", m.Pos, pos(20, 7))
	check("Vocab", m.Vocab, 300)
	check("D", m.D, 128)
	check("MaxBatch", m.MaxBatch, 2)
	check("MaxSeq", m.MaxSeq, 16)
	check("PosEmbed", m.PosEmbed, "none")
	check("EmbedPos", m.EmbedPos, pos(24, 5))
	check("FinalWidth", m.FinalWidth, 192) // Out widens 128 to 128+64
	check("FinalNorm", m.FinalNorm, "layer")
	check("NormPos", m.NormPos, pos(27, 5))
	check("NormEps", m.NormEps, 1e-5)
	check("Tied", m.Tied, false)
	check("HeadPos", m.HeadPos, pos(28, 5))
	check("Loss", m.Loss, "cross_entropy")
	check("LossPos", m.LossPos, pos(29, 5))

	// d and heads from x.bf (d overridden), eps from lib.bf, then the
	// model's own (layers overridden); unused is not used.
	wantConsts := []Const{
		{Name: "d", Type: "dim", Int: 128, Pos: pos(3, 5)},
		{Name: "heads", Type: "int", Int: 4, Pos: pos(4, 5)},
		{Name: "eps", Type: "real", Real: 1e-4, Pos: source.Pos{File: "lib.bf", Offset: 5, Line: 1, Col: 6}},
		{Name: "layers", Type: "int", Int: 2, Pos: pos(21, 9)},
		{Name: "vocab", Type: "dim", Int: 300, Pos: pos(22, 9)},
	}
	check("Consts", m.Consts, wantConsts)

	// layers = 2: Mixed(128, 4), Mixed(128, 8, swiglu), again, then Out(128).
	mixed := func(i, heads int, act string) []Layer {
		hd := 128 / heads // the local hd = d / heads
		return []Layer{
			{Name: fmt.Sprintf("blocks.%d.attn", i), Block: "Mixed", Instance: i, Sub: "attn", Pos: pos(10, 5),
				Kind: "attention", Norm: "layer", Placement: "post", Eps: 1e-5, Residual: true, In: 128, Out: 128,
				Heads: heads, HeadDim: 128 / heads, Causal: true},
			{Name: fmt.Sprintf("blocks.%d.local", i), Block: "Mixed", Instance: i, Sub: "local", Pos: pos(11, 5),
				Kind: "attention", Norm: "rms", Placement: "pre", Eps: 1e-6, Residual: true, In: 128, Out: 128,
				Heads: 2, HeadDim: hd, Causal: false},
			{Name: fmt.Sprintf("blocks.%d.ff", i), Block: "Mixed", Instance: i, Sub: "ff", Pos: pos(12, 5),
				Kind: "ffn", Norm: "layer", Placement: "post", Eps: 1e-4, Residual: true, In: 128, Out: 128,
				Hidden: 384, Act: act},
		}
	}
	var want []Layer
	want = append(want, mixed(0, 4, "gelu")...)
	want = append(want, mixed(1, 8, "swiglu")...)
	want = append(want, mixed(2, 4, "gelu")...)
	want = append(want, mixed(3, 8, "swiglu")...)
	want = append(want, Layer{Name: "blocks.4.up", Block: "Out", Instance: 4, Sub: "up", Pos: pos(17, 5),
		Kind: "ffn", Norm: "none", Placement: "pre", Eps: 0, Residual: false, In: 128, Out: 192,
		Hidden: 256, Act: "relu"})
	if len(m.Layers) != len(want) {
		t.Fatalf("got %d layers, want %d", len(m.Layers), len(want))
	}
	for i, l := range m.Layers {
		check(want[i].Name, *l, want[i])
	}
	if gate, ok := m.Layers[5].Gated(); !ok || gate != "silu" {
		t.Errorf("blocks.1.ff Gated() = %q, %v; want silu, true", gate, ok)
	}
}

func fileNames(res *Result) []string {
	var out []string
	for _, f := range res.Files {
		out = append(out, f.Name)
	}
	return out
}

// TestStdlibClean checks every standard-library file on its own, and a
// model built from each of its blocks.
func TestStdlibClean(t *testing.T) {
	entries, err := fs.ReadDir(stdlib.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatal("stdlib.FS is empty")
	}
	for _, e := range entries {
		src, err := fs.ReadFile(stdlib.FS, e.Name())
		if err != nil {
			t.Fatal(err)
		}
		if _, diags := CheckSource(Config{}, "std/"+e.Name(), src); len(diags) > 0 {
			t.Errorf("std/%s:\n%v", e.Name(), diags)
		}
	}
	src := `import "std/transformer.bf"
model M {
    input(batch: 2, seq: 8)
    embed(vocab: 64, dim: 32)
    repeat 2 [Transformer(d: 32, heads: 4), GatedTransformer(d: 32, heads: 2, mult: 2)]
    norm rms
    head tied
    loss cross_entropy
}
`
	res, diags := CheckSource(Config{}, "m.bf", []byte(src))
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:\n%v", diags)
	}
	m := res.Models[0]
	var got []string
	for _, l := range m.Layers {
		got = append(got, fmt.Sprintf("%s %s %d/%d/%d %s %d", l.Name, l.Kind, l.Heads, l.HeadDim, l.Hidden, l.Act, l.In))
	}
	want := []string{
		"blocks.0.attn attention 4/8/0  32",
		"blocks.0.ffn ffn 0/0/128 gelu 32",
		"blocks.1.attn attention 2/16/0  32",
		"blocks.1.ffn ffn 0/0/64 geglu 32",
		"blocks.2.attn attention 4/8/0  32",
		"blocks.2.ffn ffn 0/0/128 gelu 32",
		"blocks.3.attn attention 2/16/0  32",
		"blocks.3.ffn ffn 0/0/64 geglu 32",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("layers:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if res.Files[1].Name != "std/transformer.bf" {
		t.Errorf("Files = %v", fileNames(res))
	}
}

// TestCustomStd reads the standard library from Config.Std.
func TestCustomStd(t *testing.T) {
	std := fstest.MapFS{"tiny.bf": {Data: []byte("block Tiny(d: dim) {\n    ff = ffn(hidden: d)\n}\n")}}
	src := `import "std/tiny.bf"
import "std/transformer.bf" // not in this std
`
	_, diags := CheckSource(Config{Std: std}, "m.bf", []byte(src))
	if len(diags) != 1 || diags[0].Code != ImportNotFound || !strings.Contains(diags[0].Msg, "it has std/tiny.bf") {
		t.Fatalf("diagnostics = %v", diags)
	}
	if got := diags[0].Pos; got.Line != 2 || got.Col != 8 {
		t.Errorf("ImportNotFound at %v, want the import string at 2:8", got)
	}
}

// TestPositionsAndNotes checks exact columns and the notes of errors that
// depend on a block's arguments.
func TestPositionsAndNotes(t *testing.T) {
	src := `dim d = 256
dim hd = d / 3
block B(d: dim, heads: int) {
    dim hd = d / heads
    attn = attention(heads: heads, head_dim: hd)
    ff = ffn(hidden: 4 * d, out: 2 * d)
}
model M {
    input(batch: 2, seq: 8)
    embed(vocab: 64, dim: d)
    repeat 3 B(d: d, heads: 4)
    repeat 2 B(d: d, heads: 3)
    norm rms
    head untied
    loss cross_entropy
}
`
	_, diags := CheckSource(Config{}, "m.bf", []byte(src))
	var got []string
	for _, d := range diags {
		got = append(got, d.Code+" "+d.Error())
	}
	want := []string{
		"InvalidDim m.bf:2:12: d / 3: 256 is not divisible by 3",
		"InvalidDim m.bf:4:16: d / heads: 256 is not divisible by 3\n\tin blocks.3 (repeat at m.bf:12:5)",
		"WidthMismatch m.bf:6:5: residual around ff adds width 512 to a stream of width 256; set out: 256 or residual: false\n\tin blocks.0 (repeat at m.bf:11:5)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestImportCycleNotes checks the notes that list a cycle's imports.
func TestImportCycleNotes(t *testing.T) {
	files := map[string]string{
		"a.bf": "import \"b.bf\"\n",
		"b.bf": "import \"c.bf\"\n",
		"c.bf": "\nimport \"a.bf\"\n",
	}
	_, diags := Check(Config{ReadFile: mapFiles(files)}, "a.bf")
	if len(diags) != 1 {
		t.Fatalf("diagnostics = %v", diags)
	}
	want := "c.bf:2:8: import cycle: a.bf imports b.bf imports c.bf imports a.bf; remove one of these imports\n" +
		"\ta.bf:1:8: a.bf imports b.bf\n\tb.bf:1:8: b.bf imports c.bf\n\tc.bf:2:8: c.bf imports a.bf"
	if got := diags[0].Error(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// TestDuplicateNote checks the note pointing at the first declaration.
func TestDuplicateNote(t *testing.T) {
	files := map[string]string{"lib.bf": "dim d = 4\n", "m.bf": "import \"lib.bf\"\ndim d = 8\n"}
	_, diags := Check(Config{ReadFile: mapFiles(files)}, "m.bf")
	want := "m.bf:2:5: constant d redeclared; rename one of them\n\tlib.bf:1:5: other declaration of d"
	if len(diags) != 1 || diags[0].Error() != want {
		t.Errorf("diagnostics = %v, want %s", diags, want)
	}
}

// TestUnreadableRoot reports a root file that cannot be read.
func TestUnreadableRoot(t *testing.T) {
	_, diags := Check(Config{ReadFile: mapFiles(nil)}, "nope.bf")
	if len(diags) != 1 || diags[0].Code != ImportNotFound || diags[0].Pos.File != "nope.bf" {
		t.Errorf("diagnostics = %v", diags)
	}
}

func TestSuggest(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cands []string
		want  string
	}{
		{"hedas", []string{"heads", "head_dim"}, "heads"},
		{"head", []string{"heads", "head_dim"}, "heads"},
		{"rope", []string{"learned", "none"}, ""},
		{"position", []string{"vocab", "dim", "pos"}, "pos"},
		{"x", []string{"y"}, ""},
		{"gleu", words[tAct], "gelu"},
	} {
		if got := suggest(tc.name, tc.cands); got != tc.want {
			t.Errorf("suggest(%q, %v) = %q, want %q", tc.name, tc.cands, got, tc.want)
		}
	}
}

// TestOverrideTargets checks which constants an override replaces: a plain
// name replaces the file-level constant and every root model's constant of
// that name; "Model.name" wins over it for that model.
func TestOverrideTargets(t *testing.T) {
	src := `dim d = 32
model A {
    dim d = 64
    input(batch: 1, seq: 4)
    embed(vocab: 16, dim: d)
    repeat 1 B(d: d)
    norm rms
    head tied
    loss cross_entropy
}
model C {
    input(batch: 1, seq: 4)
    embed(vocab: 16, dim: d)
    repeat 1 B(d: d)
    norm rms
    head tied
    loss cross_entropy
}
block B(d: dim) {
    ff = ffn(hidden: 2 * d)
}
`
	for _, tc := range []struct {
		overrides map[string]string
		a, c      int
	}{
		{nil, 64, 32},
		{map[string]string{"d": "8"}, 8, 8},
		{map[string]string{"d": "8", "A.d": "16"}, 16, 8},
		{map[string]string{"A.d": "16"}, 16, 32},
	} {
		res, diags := CheckSource(Config{Overrides: tc.overrides}, "m.bf", []byte(src))
		if len(diags) > 0 {
			t.Fatalf("%v: %v", tc.overrides, diags)
		}
		a, c := res.Models[0], res.Models[1]
		if a.D != tc.a || c.D != tc.c || a.Layers[0].Hidden != 2*tc.a || c.Layers[0].Hidden != 2*tc.c {
			t.Errorf("%v: A.D = %d, C.D = %d; want %d, %d", tc.overrides, a.D, c.D, tc.a, tc.c)
		}
		// A's own d shadows the file's: A lists only its own.
		if len(a.Consts) != 1 || a.Consts[0].Pos.Line != 3 || len(c.Consts) != 1 || c.Consts[0].Pos.Line != 1 {
			t.Errorf("%v: consts A %v, C %v", tc.overrides, a.Consts, c.Consts)
		}
	}
}
