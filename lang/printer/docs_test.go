package printer

import (
	"strings"
	"testing"
)

// fencedBlocks returns the contents of the code blocks of a Markdown file
// whose opening fence is ```lang.
func fencedBlocks(t *testing.T, file, lang string) []string {
	var blocks []string
	var cur *strings.Builder
	for _, line := range strings.SplitAfter(string(mustRead(t, file)), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && trimmed == "```"+lang:
			cur = &strings.Builder{}
		case cur != nil && trimmed == "```":
			blocks = append(blocks, cur.String())
			cur = nil
		case cur != nil:
			cur.WriteString(line)
		}
	}
	return blocks
}

// TestLanguageDocExamples checks that every ```bf example of the language
// reference parses and is in canonical form.
func TestLanguageDocExamples(t *testing.T) {
	blocks := fencedBlocks(t, "../../docs/language.md", "bf")
	if len(blocks) < 5 {
		t.Fatalf("found %d bf examples in docs/language.md", len(blocks))
	}
	for _, b := range blocks {
		got, err := Format("language.md", []byte(b))
		if err != nil {
			t.Errorf("example does not parse: %v\n%s", err, b)
			continue
		}
		if string(got) != b {
			t.Errorf("example is not in canonical form:\n%s", diff(b, string(got)))
		}
	}
}
