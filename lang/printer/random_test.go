package printer

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/bfcdev/bfc/lang/parser"
)

// gen writes random files of the .bf grammar as token lists.
type gen struct {
	r    *rand.Rand
	toks []string
}

func (g *gen) emit(ts ...string) { g.toks = append(g.toks, ts...) }

func (g *gen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

func (g *gen) n(k int) int { return g.r.IntN(k) }

func (g *gen) name() string {
	return g.pick("d", "heads", "x", "gelu", "rms", "dim", "norm", "repeat", "model", "pre", "head", "loss", "act", "search", "baseline")
}

func (g *gen) file() {
	for range g.n(3) {
		g.emit("import", strconv.Quote(g.pick("std/transformer.bf", "a/b.bf", "é\t\"q\"")))
	}
	for range g.n(5) {
		switch g.n(4) {
		case 0:
			g.constDecl()
		case 1:
			g.block()
		case 2:
			g.model()
		case 3:
			g.search()
		}
	}
}

func (g *gen) search() {
	g.emit("search", g.name(), "{")
	for range g.n(6) {
		switch g.n(4) {
		case 0:
			g.emit("baseline", g.name())
		case 1:
			g.emit(g.pick("blocks", "d", "kinds", "baseline", "search", "norm"), ":")
			g.expr(1)
		case 2:
			// A choice whose value is a list, lists nested in it.
			g.emit(g.pick("blocks", "d", "act"), ":")
			g.valueList(1)
		default:
			g.emit(g.pick("ffn", "attention", "moe", "baseline", "search"))
			g.list(g.n(4), "(", ")", func() {
				g.emit(g.name(), ":")
				if g.n(2) == 0 {
					g.valueList(2)
				} else {
					g.expr(2)
				}
			})
		}
	}
	g.emit("}")
}

// valueList emits a list of values: expressions, routing-rule calls whose
// arguments are lists, and lists.
func (g *gen) valueList(depth int) {
	g.list(g.n(4), "[", "]", func() {
		switch {
		case depth < 3 && g.n(3) == 0:
			g.emit(g.pick("top_k", "expert_choice"))
			g.list(g.n(3), "(", ")", func() {
				g.emit(g.name(), ":")
				if g.n(2) == 0 {
					g.valueList(depth + 2)
				} else {
					g.expr(depth + 2)
				}
			})
		case depth < 3 && g.n(4) == 0:
			g.valueList(depth + 1)
		default:
			g.expr(depth + 1)
		}
	})
}

func (g *gen) constDecl() {
	g.emit(g.pick("dim", "int", "real", "bool"), g.name(), "=")
	g.expr(0)
}

func (g *gen) list(n int, open, close string, item func()) {
	g.emit(open)
	for i := range n {
		if i > 0 {
			g.emit(",")
		}
		item()
	}
	if n > 0 && g.n(3) == 0 {
		g.emit(",")
	}
	g.emit(close)
}

func (g *gen) block() {
	g.emit("block", g.name())
	g.list(g.n(4), "(", ")", func() {
		g.emit(g.name(), ":", g.pick("dim", "int", "real", "bool", "act"))
		if g.n(2) == 0 {
			g.emit("=")
			g.expr(0)
		}
	})
	g.emit("{")
	for range g.n(5) {
		switch g.n(3) {
		case 0:
			g.constDecl()
		case 1:
			g.emit("norm", g.pick("rms", "layer", "none"))
			if g.n(2) == 0 {
				g.emit(g.pick("pre", "post"))
			}
		case 2:
			g.emit(g.pick("attn", "mlp", "norm", "dim"), "=")
			g.call(0)
		}
	}
	g.emit("}")
}

func (g *gen) model() {
	g.emit("model", g.name(), "{")
	for range g.n(6) {
		switch g.n(6) {
		case 0:
			g.constDecl()
		case 1:
			g.emit("repeat")
			g.expr(1)
			if g.n(2) == 0 {
				g.call(0)
			} else {
				g.list(1+g.n(3), "[", "]", func() { g.call(0) })
			}
		case 2:
			g.emit(g.pick("norm", "head", "loss"), g.name())
		default:
			g.call(0)
		}
	}
	g.emit("}")
}

func (g *gen) call(depth int) {
	g.emit(g.pick("ffn", "attention", "input", "embed", "top_k", "B"))
	g.list(g.n(4), "(", ")", func() {
		g.emit(g.name(), ":")
		g.expr(depth + 1)
	})
}

func (g *gen) expr(depth int) {
	g.unary(depth)
	for range g.n(3) {
		g.emit(g.pick("+", "-", "*", "/", "%"))
		g.unary(depth)
	}
}

func (g *gen) unary(depth int) {
	if g.n(4) == 0 {
		g.emit("-")
	}
	k := g.n(7)
	if depth > 2 {
		k = g.n(3)
	}
	switch k {
	case 0:
		g.emit(g.pick("1", "256", "007", "0.5", "1e-6", "3.", "2.5E+10"))
	case 1:
		g.emit(g.pick("true", "false"))
	case 2:
		g.emit(g.name())
	case 3, 4:
		g.call(depth + 1)
	case 5:
		g.emit("(")
		g.expr(depth + 1)
		g.emit(")")
	case 6:
		g.list(g.n(4), "[", "]", func() { g.expr(depth + 1) })
	}
}

// join writes the tokens with random separators: spaces, line breaks,
// blank lines, end-of-line comments and comments on lines of their own.
func (g *gen) join() string {
	var b strings.Builder
	c := 0
	comment := func() string {
		c++
		return "// c" + strconv.Itoa(c) + g.pick("", " é", "\t//x")
	}
	for i, t := range g.toks {
		if i > 0 {
			switch g.n(12) {
			case 0:
				b.WriteString("\n")
			case 1:
				b.WriteString("\n\n\n")
			case 2:
				b.WriteString(" " + comment() + "\n")
			case 3:
				b.WriteString("\n" + comment() + "\n")
			case 4:
				b.WriteString("\n\n" + comment() + "\n\n" + comment() + "\n")
			case 5:
				b.WriteString("\t")
			default:
				b.WriteString(" ")
			}
		}
		b.WriteString(t)
	}
	if g.n(2) == 0 {
		b.WriteString(" " + comment())
	}
	return b.String()
}

// TestRandomRoundTrip formats random files of the grammar, with comments
// and line breaks between random tokens, and checks the round trip.
func TestRandomRoundTrip(t *testing.T) {
	n := 400
	if testing.Short() {
		n = 50
	}
	for seed := range n {
		g := &gen{r: rand.New(rand.NewPCG(uint64(seed), 1))}
		g.file()
		src := g.join()
		if _, err := parser.Parse("r.bf", []byte(src)); err != nil {
			t.Fatalf("seed %d: generated file does not parse: %v\n%s", seed, err, src)
		}
		if msg := roundTrip("r.bf", []byte(src)); msg != "" {
			t.Fatalf("seed %d: %s\ninput:\n%s", seed, msg, src)
		}
	}
}
