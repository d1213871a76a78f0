package parser

import (
	"strings"
	"testing"
)

// TestMutationsAgree mutates every valid test file one token at a time
// (deleting it, and doubling, swapping or replacing it) and checks that the
// grammar and the recogniser behind the error messages accept and reject
// the same mutants.
func TestMutationsAgree(t *testing.T) {
	replacements := []string{"(", ")", ",", ":", "=", "[", "]", "{", "}", "-", "*", "x", "1", "0.5",
		`"s"`, "norm", "repeat", "head", "dim", "block", "model", "import", "pre", "true"}
	checked, rejected := 0, 0
	for _, file := range validFiles(t) {
		toks, _, lexErr := scan(file, mustRead(t, file))
		if lexErr != nil {
			t.Fatal(lexErr)
		}
		var words []string
		for _, tk := range toks[:len(toks)-1] {
			words = append(words, tk.Value)
		}
		if len(words) > 400 {
			words = words[:400]
		}
		var mutants [][]string
		for i := range words {
			with := func(f func(w []string) []string) {
				w := append([]string(nil), words...)
				mutants = append(mutants, f(w))
			}
			// Three mutants per token keep the test fast; the kinds and
			// replacements rotate along the file.
			with(func(w []string) []string { return append(w[:i], w[i+1:]...) })
			if i%2 == 0 || i+1 == len(words) {
				with(func(w []string) []string { return append(w[:i+1], w[i:]...) })
			} else {
				with(func(w []string) []string { w[i], w[i+1] = w[i+1], w[i]; return w })
			}
			r := replacements[(i*7+len(file))%len(replacements)]
			with(func(w []string) []string { w[i] = r; return w })
		}
		for _, m := range mutants {
			src := []byte(strings.Join(m, " "))
			mt, _, lexErr := scan("m.bf", src)
			if lexErr != nil || checkNesting(mt) != nil {
				continue
			}
			_, perr := grammar.ParseBytes("m.bf", src)
			d := diagnose("m.bf", mt)
			if (perr == nil) != (d == nil) {
				t.Fatalf("grammar and recogniser disagree on\n%s\ngrammar: %v\nrecogniser: %v", src, perr, d)
			}
			checked++
			if perr != nil {
				rejected++
			}
		}
	}
	if checked < 500 || rejected < checked/4 {
		t.Errorf("only %d mutants checked, %d rejected", checked, rejected)
	}
}
