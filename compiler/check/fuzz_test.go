package check

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// FuzzCheckSource checks that no input makes the checker panic, that every
// diagnostic carries a catalogued code and a position inside the input.
func FuzzCheckSource(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.bf")
	more, _ := filepath.Glob("testdata/*/*.bf")
	for _, p := range append(seeds, more...) {
		if src, err := os.ReadFile(p); err == nil {
			f.Add(src)
		}
	}
	f.Add([]byte(expandSrc))
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg := Config{
			ReadFile:  mapFiles(map[string]string{"lib.bf": "real eps = 1e-4\nblock L(d: dim) {\n    ff = ffn(hidden: d)\n}\n"}),
			Overrides: map[string]string{"d": "64", "M.layers": "2"},
		}
		_, diags := CheckSource(cfg, "f.bf", src)
		for _, d := range diags {
			if !slices.Contains(codes, d.Code) {
				t.Errorf("diagnostic with uncatalogued code %q: %v", d.Code, d)
			}
			if d.Pos.File == "f.bf" && (d.Pos.Offset < 0 || d.Pos.Offset > len(src)) {
				t.Errorf("position %v outside the input (%d bytes): %v", d.Pos, len(src), d)
			}
		}
	})
}
