package stdlib

import (
	"io/fs"
	"strings"
	"testing"
)

// TestFS checks that the embedded library holds every file with its
// blocks. compiler/check's TestStdlibClean and TestStdlibMoE check them.
func TestFS(t *testing.T) {
	for file, blocks := range map[string][]string{
		"transformer.bf": {"Transformer", "GatedTransformer"},
		"glam.bf":        {"GLaM"},
		"switch.bf":      {"Switch"},
		"brainformer.bf": {"Brainformer6", "Brainformer8"},
	} {
		src, err := fs.ReadFile(FS, file)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range blocks {
			if !strings.Contains(string(src), "block "+b+"(") {
				t.Errorf("%s lacks block %s", file, b)
			}
		}
	}
}
