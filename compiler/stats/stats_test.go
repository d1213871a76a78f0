package stats

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/bfcdev/bfc/compiler/check"
)

// model checks src and returns its only model.
func model(t *testing.T, src string, overrides map[string]string) *check.Model {
	t.Helper()
	res, diags := check.CheckSource(check.Config{Overrides: overrides}, "m.bf", []byte(src))
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:\n%v", diags)
	}
	if len(res.Models) != 1 {
		t.Fatalf("got %d models, want 1", len(res.Models))
	}
	return res.Models[0]
}

// glamSrc is a GLaM model: L/2 GLaM blocks (std/glam.bf) of width d with
// heads heads and E experts, hidden 4·d, and GLaM's SentencePiece
// vocabulary of 256K (256,000) tokens. GLaM has no absolute position
// embedding (it uses a relative position bias bfc does not model), and its
// head is tied.
const glamSrc = `import "std/glam.bf"

model GLaM01B {
    int pairs = 6
    dim d = 768
    int heads = 12
    int experts = 32
    input(batch: 8, seq: 1024)
    embed(vocab: 256000, dim: d, pos: none)
    repeat pairs GLaM(d: d, heads: heads, experts: experts)
    norm rms
    head tied
    loss cross_entropy
}
`

// TestGLaM01B32E counts GLaM 0.1B/32E ([BF] Table 2: 12 layers, d 768,
// hidden 3072, 12 heads of 64, 32 experts, top-2) and compares every total
// with arithmetic done by hand.
func TestGLaM01B32E(t *testing.T) {
	s := Compute(model(t, glamSrc, nil))

	const (
		d, h, e, v = 768, 3072, 32, 256000
		attn       = 4*d*d + d // qkv 768×2304, out 768×768, RMSNorm scale
		expert     = 2 * d * h // plain GELU expert: 768×3072, 3072×768
		router     = d * e     // 768×32
		moe        = router + e*expert + d
		moeAct     = router + 2*expert + d // top-2
		ffn        = 3*d*h + d             // GEGLU: 768×6144, 3072×768
		pair       = attn + moe + attn + ffn
		pairAct    = attn + moeAct + attn + ffn
		emb        = v * d
		final      = d
	)
	check := func(what string, got, want int64) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %d, want %d", what, got, want)
		}
	}
	check("Embedding", s.Embedding, emb)
	check("Params", s.Params, emb+6*pair+final)
	check("NonEmbedding", s.NonEmbedding, 6*pair+final)
	check("Activated", s.Activated, 6*pairAct+final)
	// FLOPs: twice the activated weights (norms aside), plus the head.
	check("FLOPs", s.FLOPs, 2*6*(pairAct-4*d)+2*d*v)
	check("ScoreFLOPsPerPos", s.ScoreFLOPsPerPos, 12*4*12*64)
	check("ScoreFLOPs", s.ScoreFLOPs, int64(math.Round(12*4*12*64*1025.0/2)))
	if len(s.Rows) != 1+24+2 {
		t.Fatalf("%d rows, want embed, 24 sub-layers, norm and head", len(s.Rows))
	}
	check("blocks.0.moe params", s.Rows[2].Params, moe)
	check("blocks.0.moe activated", s.Rows[2].Activated, moeAct)
	check("blocks.0.ffn params", s.Rows[4].Params, ffn)
	check("head params", s.Rows[26].Params, 0)
	check("head FLOPs", s.Rows[26].FLOPs, 2*d*v)

	// The numbers this test documents (docs/stats.md): 976.9M parameters
	// outside the embedding, 1.174B with it, 127.6M activated.
	for _, c := range []struct {
		got  int64
		want string
	}{{s.NonEmbedding, "976.9M"}, {s.Params, "1.174B"}, {s.Activated, "127.6M"}} {
		if Short(c.got) != c.want {
			t.Errorf("Short(%d) = %s, want %s", c.got, Short(c.got), c.want)
		}
	}
}

// paperRef is a size reported by a paper.
type paperRef struct {
	name      string
	overrides map[string]string // on glamSrc
	dense     bool              // the dense baseline: GatedTransformer layers instead of GLaM pairs
	total     float64           // n_params
	activated float64           // n_act-params
	source    string
}

// knownGap records a paper figure our convention does not reproduce within
// 2%: the deviation (ours/paper - 1) must stay inside [lo, hi], so a change
// in the counting shows up here. docs/stats.md explains the gaps.
type knownGap struct{ lo, hi float64 }

// TestPaperSizes compares our counts with the parameter counts of the GLaM
// baselines reported in [BF] Table 2/3 and [EC] Table 1 (copied into
// shared/design/brainformer.md §2.4), with the reference values written
// here from the papers. Paper totals are compared with our count outside
// the embedding (a 256K-token embedding of width 768 alone is 197M, more
// than the dense 0.1B model's whole 130M, so the papers' totals cannot
// include it); activated counts with ours, which excludes embeddings.
//
// Within 2%: every total, and the 8B/64E activated count. Not within 2%:
// the activated counts at 0.1B (ours 127.6M vs 145M, -12%) and 1.7B (ours
// 1.813B vs 1.879B, -3.5%), and the dense 0.1B model (113.3M vs 130M,
// -13%). All three gaps, like the 16-expert total (ours 523.9M vs 548M),
// are close to a 32K×d matrix (24.6M at d 768, 65.5M at d 2048), as if the
// papers counted an embedding of about 32K rows in both columns; but the
// papers state a 256K vocabulary, and with 32K rows counted in both the
// 0.1B activated count would still be 152.1M (+4.9%).
func TestPaperSizes(t *testing.T) {
	gl := func(pairs, d, heads, experts int) map[string]string {
		return map[string]string{"pairs": fmt.Sprint(pairs), "d": fmt.Sprint(d), "heads": fmt.Sprint(heads), "experts": fmt.Sprint(experts)}
	}
	refs := []paperRef{
		{name: "0.1B/32E", overrides: gl(6, 768, 12, 32), total: 1.0e9, activated: 145e6, source: "[EC] Table 1, [BF] Table 3"},
		{name: "0.1B/16E", overrides: gl(6, 768, 12, 16), total: 548e6, activated: 145e6, source: "[EC] Table 1"},
		{name: "0.1B/64E", overrides: gl(6, 768, 12, 64), total: 1.9e9, activated: 145e6, source: "[EC] Table 1"},
		{name: "0.1B/128E", overrides: gl(6, 768, 12, 128), total: 3.7e9, activated: 145e6, source: "[EC] Table 1"},
		{name: "0.1B dense", overrides: gl(12, 768, 12, 1), dense: true, total: 130e6, activated: 130e6, source: "[EC] Table 1, [BF] Table 2"},
		{name: "1.7B/64E", overrides: gl(12, 2048, 16, 64), total: 27e9, activated: 1.879e9, source: "[BF] Table 2"},
		{name: "8B/64E", overrides: gl(16, 4096, 32, 64), total: 143e9, activated: 9.8e9, source: "[BF] Table 2, [EC] Table 1"},
	}
	gaps := map[string]knownGap{
		"0.1B/32E activated":   {-0.125, -0.115},
		"0.1B/16E total":       {-0.05, -0.04},
		"0.1B/16E activated":   {-0.13, -0.12},
		"0.1B/64E activated":   {-0.125, -0.115},
		"0.1B/128E activated":  {-0.125, -0.115},
		"0.1B dense total":     {-0.135, -0.125},
		"0.1B dense activated": {-0.135, -0.125},
		"1.7B/64E activated":   {-0.04, -0.03},
		"0.1B/32E total":       {-0.025, -0.02}, // 976.9M, printed as 1.0B in the papers
	}
	for _, ref := range refs {
		src := glamSrc
		if ref.dense {
			src = strings.Replace(src, `import "std/glam.bf"`, `import "std/transformer.bf"`, 1)
			src = strings.Replace(src, "GLaM(d: d, heads: heads, experts: experts)", "GatedTransformer(d: d, heads: heads)", 1)
		}
		s := Compute(model(t, src, ref.overrides))
		for _, c := range []struct {
			what       string
			got, paper float64
		}{
			{"total", float64(s.NonEmbedding), ref.total},
			{"activated", float64(s.Activated), ref.activated},
		} {
			dev := c.got/c.paper - 1
			key := ref.name + " " + c.what
			t.Logf("%-22s ours %8s  paper %8s  %+6.1f%%  (%s)", key, Short(int64(c.got)), Short(int64(c.paper)), 100*dev, ref.source)
			gap, known := gaps[key]
			switch {
			case known && (dev < gap.lo || dev > gap.hi):
				t.Errorf("%s: ours %s vs the paper's %s is %+.1f%%, outside the known gap [%+.1f%%, %+.1f%%]",
					key, Short(int64(c.got)), Short(int64(c.paper)), 100*dev, 100*gap.lo, 100*gap.hi)
			case !known && math.Abs(dev) > 0.02:
				t.Errorf("%s: ours %s vs the paper's %s is %+.1f%%, more than 2%%", key, Short(int64(c.got)), Short(int64(c.paper)), 100*dev)
			}
		}
	}
}

// TestCounting checks each kind of sub-layer on a small model: norms,
// gated and plain FFNs, widening FFNs, expert choice's fractional
// capacity, an untied head and a learned position embedding.
func TestCounting(t *testing.T) {
	src := `block B(d: dim) {
    norm layer post
    attn = attention(heads: 2, head_dim: 8, causal: false)
    ec = moe(experts: 4, hidden: 32, act: swiglu, route: expert_choice(capacity: 1.5, group: position))
    tk = moe(experts: 4, hidden: 32, route: top_k(k: 1), norm: none)
    up = ffn(hidden: 48, act: relu, out: 24, residual: false)
}
model M {
    input(batch: 8, seq: 10)
    embed(vocab: 100, dim: 16)
    repeat 1 B(d: 16)
    norm layer
    head untied
    loss cross_entropy
}
`
	s := Compute(model(t, src, nil))
	want := []Row{
		{Name: "embed", Kind: "embed", Params: 100*16 + 10*16},
		{Name: "blocks.0.attn", Kind: "attention", Params: 16*48 + 16*16 + 32, Activated: 16*48 + 16*16 + 32, FLOPs: 2 * (16*48 + 16*16),
			ScoreFLOPsPerPos: 4 * 16, ScoreFLOPs: 4 * 16 * 10},
		// swiglu experts: 16×64 and 32×16; capacity 1.5: 1.5 experts per token.
		{Name: "blocks.0.ec", Kind: "moe", Params: 16*4 + 4*(16*64+32*16) + 32, Activated: 16*4 + 2304 + 32, FLOPs: 2 * (16*4 + 2304)},
		{Name: "blocks.0.tk", Kind: "moe", Params: 16*4 + 4*(16*32+32*16), Activated: 16*4 + 16*32 + 32*16, FLOPs: 2 * (16*4 + 16*32 + 32*16)},
		// post norm over the output width 24
		{Name: "blocks.0.up", Kind: "ffn", Params: 16*48 + 48*24 + 48, Activated: 16*48 + 48*24 + 48, FLOPs: 2 * (16*48 + 48*24)},
		{Name: "norm", Kind: "norm", Params: 48, Activated: 48},
		{Name: "head", Kind: "head", Params: 24 * 100, Activated: 24 * 100, FLOPs: 2 * 24 * 100},
	}
	if len(s.Rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(s.Rows), len(want))
	}
	var total, act, flops int64
	for i, r := range s.Rows {
		r.Detail = ""
		if r != want[i] {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, r, want[i])
		}
		total += want[i].Params
		act += want[i].Activated
		flops += want[i].FLOPs
	}
	if s.Params != total || s.Activated != act || s.FLOPs != flops || s.Embedding != 1760 || s.NonEmbedding != total-1760 {
		t.Errorf("totals %d/%d/%d, embedding %d, non-embedding %d", s.Params, s.Activated, s.FLOPs, s.Embedding, s.NonEmbedding)
	}
}

// TestTable checks the table's shape and the JSON field names.
func TestTable(t *testing.T) {
	s := Compute(model(t, glamSrc, map[string]string{"pairs": "1"}))
	var b bytes.Buffer
	if err := s.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"model GLaM01B: vocab 256000, d 768, input(batch: 8, seq: 1024), head tied\n",
		"\nlayer           kind            params   activated  FLOPs/token\n",
		"\nblocks.0.moe    moe        151,020,288   9,462,528   18,923,520  32 experts × hidden 3072, gelu, top_k k 2\n",
		"\ntotal                      359,427,840  21,262,080  435,732,480\n",
		"params: 359.4M (embeddings 196.6M, non-embedding 162.8M)\n",
		"attention scores: 6,144 FLOPs per token and attended position; 3.149M per token at seq 1024",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	j, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"params":359427840`, `"activated":`, `"non_embedding":`, `"rows":[{"name":"embed"`, `"score_flops_per_pos":6144`} {
		if !bytes.Contains(j, []byte(key)) {
			t.Errorf("JSON lacks %s: %s", key, j)
		}
	}
}

func TestShortAndGroup(t *testing.T) {
	for _, tc := range []struct {
		n            int64
		short, group string
	}{
		{0, "0", "0"},
		{768, "768", "768"},
		{1000, "1K", "1,000"},
		{127567872, "127.6M", "127,567,872"},
		{1173523200, "1.174B", "1,173,523,200"},
		{-1234567, "-1.235M", "-1,234,567"},
		{143e9, "143B", "143,000,000,000"},
	} {
		if got := Short(tc.n); got != tc.short {
			t.Errorf("Short(%d) = %s, want %s", tc.n, got, tc.short)
		}
		if got := Group(tc.n); got != tc.group {
			t.Errorf("Group(%d) = %s, want %s", tc.n, got, tc.group)
		}
	}
}

// TestPaperSizes32K checks the explanation of the gaps in TestPaperSizes:
// with a vocabulary of 32,000 tokens whose embedding is counted in both the
// total and the activated parameters, the 1.7B/64E and 8B/64E rows and
// every 0.1B total come out within 2% (most within 0.2%), and the 0.1B
// activated counts 5% high. This is not bfc's convention, only evidence
// about the papers'.
func TestPaperSizes32K(t *testing.T) {
	for _, c := range []struct {
		pairs, d, heads, experts int
		total, activated         float64
		activatedGap             bool
	}{
		{6, 768, 12, 16, 548e6, 145e6, true},
		{6, 768, 12, 32, 1.0e9, 145e6, true},
		{6, 768, 12, 64, 1.9e9, 145e6, true},
		{6, 768, 12, 128, 3.7e9, 145e6, true},
		{12, 2048, 16, 64, 27e9, 1.879e9, false},
		{16, 4096, 32, 64, 143e9, 9.8e9, false},
	} {
		src := strings.Replace(glamSrc, "vocab: 256000", "vocab: 32000", 1)
		s := Compute(model(t, src, map[string]string{"pairs": fmt.Sprint(c.pairs), "d": fmt.Sprint(c.d), "heads": fmt.Sprint(c.heads), "experts": fmt.Sprint(c.experts)}))
		total := float64(s.Params)/c.total - 1
		act := float64(s.Activated+s.Embedding)/c.activated - 1
		t.Logf("d %d, %d experts: total %s (%+.1f%%), activated with the embedding %s (%+.1f%%)", c.d, c.experts,
			Short(s.Params), 100*total, Short(s.Activated+s.Embedding), 100*act)
		if math.Abs(total) > 0.02 {
			t.Errorf("d %d, %d experts: total %+.1f%%", c.d, c.experts, 100*total)
		}
		if c.activatedGap != (math.Abs(act) > 0.02) {
			t.Errorf("d %d, %d experts: activated %+.1f%%", c.d, c.experts, 100*act)
		}
	}
}
