package check

import "strings"

// The universe: the words that name activations, norm kinds and the other
// enumerations of the language. They are found after every declared name,
// so a parameter or constant may shadow one.
var words = map[typ][]string{
	tAct:       {"relu", "gelu", "gelu_tanh", "sqrelu", "silu", "reglu", "geglu", "swiglu"},
	tNorm:      {"rms", "layer", "none"},
	tPlacement: {"pre", "post"},
	tPos:       {"learned", "none"},
	tHead:      {"tied", "untied"},
	tLoss:      {"cross_entropy"},
	tGroup:     {"batch", "sequence", "position"},
	tDrop:      {"overflow"},
	tLeak:      {"allow"},
	tFill:      {"none", "top1"},
}

// wordTypes lists the word sets in a fixed order for messages.
var wordTypes = []typ{tAct, tNorm, tPlacement, tPos, tHead, tLoss, tGroup, tDrop, tLeak, tFill}

// isWord reports whether w is a word of type t.
func isWord(t typ, w string) bool {
	for _, x := range words[t] {
		if x == w {
			return true
		}
	}
	return false
}

// wordType returns the first word set that holds w.
func wordType(w string) (typ, bool) {
	for _, t := range wordTypes {
		if isWord(t, w) {
			return t, true
		}
	}
	return "", false
}

// oneOf formats a list of choices: "a, b or c".
func oneOf(xs []string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}

// normEps is the default epsilon of a norm kind.
func normEps(kind string) float64 {
	switch kind {
	case "rms":
		return 1e-6
	case "layer":
		return 1e-5
	}
	return 0
}
