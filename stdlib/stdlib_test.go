package stdlib

import (
	"io/fs"
	"strings"
	"testing"
)

// TestFS checks that the embedded library holds transformer.bf with both
// of its blocks. compiler/check's TestStdlibClean checks every file.
func TestFS(t *testing.T) {
	src, err := fs.ReadFile(FS, "transformer.bf")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"block Transformer(", "block GatedTransformer("} {
		if !strings.Contains(string(src), b) {
			t.Errorf("transformer.bf lacks %q", b)
		}
	}
}
