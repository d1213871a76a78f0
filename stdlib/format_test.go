package stdlib_test

import (
	"bytes"
	"io/fs"
	"testing"

	"github.com/bfcdev/bfc/lang/printer"
	"github.com/bfcdev/bfc/stdlib"
)

// TestCanonical checks that every standard-library file is in the canonical
// form bfc fmt writes: formatting it changes nothing.
func TestCanonical(t *testing.T) {
	files, err := fs.Glob(stdlib.FS, "*.bf")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("stdlib.FS has %d .bf files, want at least 4", len(files))
	}
	for _, name := range files {
		src, err := fs.ReadFile(stdlib.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		out, err := printer.Format("std/"+name, src)
		if err != nil {
			t.Errorf("std/%s: %v", name, err)
			continue
		}
		if !bytes.Equal(out, src) {
			t.Errorf("std/%s is not canonical; run bfc fmt -w stdlib/%s", name, name)
		}
	}
}
