package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// windowBytes reads n bytes at off from a source.
func windowBytes(t *testing.T, s source, off int64, n int) []byte {
	t.Helper()
	tok, tgt := make([]int32, n-1), make([]int32, n-1)
	if err := s.Window(off, tok, tgt); err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 0, n)
	for _, v := range tok {
		out = append(out, byte(v))
	}
	return append(out, byte(tgt[n-2]))
}

// TestCorpusSingleFile checks that one file is split by bytes: the
// training part is its head and the held-out part its tail.
func TestCorpusSingleFile(t *testing.T) {
	text := []byte(strings.Repeat("0123456789abcdef", 100)) // 1600 bytes
	path := filepath.Join(t.TempDir(), "one.txt")
	os.WriteFile(path, text, 0o644)
	tr, ho, desc, err := corpus([]string{path}, 0.25, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if tr.Size() != 1200 || ho.Size() != 400 || !strings.Contains(desc, "held out their last 0.0 MB") {
		t.Fatalf("sizes %d and %d (%s); want 1200 and 400", tr.Size(), ho.Size(), desc)
	}
	if got := windowBytes(t, tr, 0, 1200); !bytes.Equal(got, text[:1200]) {
		t.Fatal("the training part is not the file's head")
	}
	if got := windowBytes(t, ho, 0, 400); !bytes.Equal(got, text[1200:]) {
		t.Fatal("the held-out part is not the file's tail")
	}
	if err := ho.Window(1, make([]int32, 399), make([]int32, 399)); err == nil {
		t.Fatal("a window past the held-out end was read")
	}
	// -max-bytes caps both parts.
	tr, ho, _, err = corpus([]string{path}, 0.25, 800)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Size() != 800 || ho.Size() != 100 {
		t.Fatalf("capped sizes %d and %d; want 800 and 100", tr.Size(), ho.Size())
	}
	// Too little text to hold some out.
	tiny := filepath.Join(t.TempDir(), "tiny.txt")
	os.WriteFile(tiny, []byte("ab"), 0o644)
	if _, _, _, err := corpus([]string{tiny}, 0.25, 0); err == nil || !strings.Contains(err.Error(), "too little to hold some out") {
		t.Fatalf("tiny corpus: %v", err)
	}
}

// TestCorpusFiles checks the split by file: every byte is in one part.
func TestCorpusFiles(t *testing.T) {
	dir := corpusDir(t)
	var total int64
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		st, _ := os.Stat(filepath.Join(dir, e.Name()))
		total += st.Size()
	}
	tr, ho, desc, err := corpus([]string{dir}, 0.3, 0)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Size()+ho.Size() != total || tr.Size() == 0 || ho.Size() == 0 || !strings.Contains(desc, "the files named (") {
		t.Fatalf("training %d + held-out %d bytes, files hold %d (%s)", tr.Size(), ho.Size(), total, desc)
	}
	if _, _, _, err := corpus([]string{filepath.Join(dir, "missing")}, 0.3, 0); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing path: %v", err)
	}
}
