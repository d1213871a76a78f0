package printer

import (
	"path/filepath"
	"testing"

	"github.com/bfcdev/bfc/lang/parser"
)

// FuzzRoundTrip checks, for every input that parses, that the printed file
// parses again to an equal tree with the same comments, and that printing
// that tree gives the same text.
func FuzzRoundTrip(f *testing.F) {
	for _, file := range allInputs(f) {
		f.Add(mustRead(f, file))
	}
	errs, _ := filepath.Glob("../parser/testdata/fuzz/FuzzParse/*")
	if len(errs) == 0 {
		f.Fatal("no parser fuzz corpus")
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if _, err := parser.Parse("f.bf", src); err != nil {
			return
		}
		if msg := roundTrip("f.bf", src); msg != "" {
			t.Fatalf("input %q: %s", src, msg)
		}
	})
}
