package codegen

import (
	"go/token"
	"strings"
	"unicode"
)

// reserved are the exported names every generated package declares; model
// constants that would clash with them are left out.
var reserved = []string{"Vocab", "D", "MaxBatch", "MaxSeq", "MaxTokens", "NumParams", "Options", "Model", "New", "Load"}

// exportName turns a .bf identifier into an exported Go name:
// "head_dim" → "HeadDim", "d" → "D", "nLayers" → "NLayers". It returns ""
// when no valid Go identifier results.
func exportName(s string) string {
	var b strings.Builder
	for _, part := range strings.Split(s, "_") {
		if part == "" {
			continue
		}
		r := []rune(part)
		r[0] = unicode.ToUpper(r[0])
		b.WriteString(string(r))
	}
	n := b.String()
	if n == "" || !token.IsIdentifier(n) || !token.IsExported(n) {
		return ""
	}
	return n
}

// packageName returns the default package name for a model: its name in
// lower case with everything but ASCII letters, digits and underscores
// dropped.
func packageName(model string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(model) {
		if r == '_' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// validPackage reports whether s can name a package.
func validPackage(s string) bool {
	return token.IsIdentifier(s) && s != "_" && s != "main"
}
