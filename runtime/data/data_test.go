package data

import (
	"hash/fnv"
	"os"
	"path/filepath"
	"testing"

	"github.com/bfcdev/bfc/runtime/tensor"
	"github.com/stretchr/testify/require"
)

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
	return dir
}

func TestCollect(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"b.go": "b", "a/x.go": "x", "a/y.txt": "y", "a/testdata/z.go": "z",
		".git/config.go": "hidden", "c.go": "c",
	})
	files, err := Collect([]string{dir, filepath.Join(dir, "a", "y.txt"), filepath.Join(dir, "b.go")}, []string{".go"})
	require.NoError(t, err)
	rel := func(fs []string) []string {
		var out []string
		for _, f := range fs {
			r, _ := filepath.Rel(dir, f)
			out = append(out, filepath.ToSlash(r))
		}
		return out
	}
	require.Equal(t, []string{"a/testdata/z.go", "a/x.go", "a/y.txt", "b.go", "c.go"}, rel(files))

	all, err := Collect([]string{dir}, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"a/testdata/z.go", "a/x.go", "a/y.txt", "b.go", "c.go"}, rel(all))

	_, err = Collect([]string{filepath.Join(dir, "missing")}, nil)
	require.Error(t, err)

	if os.Getuid() != 0 { // root reads everything
		locked := filepath.Join(dir, "a", "testdata")
		require.NoError(t, os.Chmod(locked, 0))
		defer os.Chmod(locked, 0o755)
		files, err = Collect([]string{dir}, []string{".go"})
		require.NoError(t, err)
		require.Equal(t, []string{"a/x.go", "b.go", "c.go"}, rel(files))
	}
}

func TestSplit(t *testing.T) {
	var files []string
	for _, n := range []string{"a.go", "b.go", "c/d.go", "c/e.go", "f/g/h.go", "i.go", "j.go", "k.go", "l.go", "m.go"} {
		files = append(files, filepath.Join("/root1", "src", filepath.FromSlash(n)))
	}
	train, held := Split(files, 0.3)
	require.Equal(t, len(files), len(train)+len(held))
	// Independent check: FNV-1a of the path relative to /root1/src.
	for _, f := range held {
		rel, _ := filepath.Rel("/root1/src", f)
		h := fnv.New64a()
		h.Write([]byte(filepath.ToSlash(rel)))
		require.Less(t, float64(h.Sum64())/(1<<64), 0.3+1e-12, f)
	}
	// The same tree elsewhere, in another order, splits the same way.
	var moved []string
	for i := len(files) - 1; i >= 0; i-- {
		rel, _ := filepath.Rel("/root1", files[i])
		moved = append(moved, filepath.Join("/elsewhere/go", rel))
	}
	train2, held2 := Split(moved, 0.3)
	require.Equal(t, len(held), len(held2))
	require.Equal(t, len(train), len(train2))
	for i := range held {
		require.Equal(t, filepath.Base(held[i]), filepath.Base(held2[len(held2)-1-i]))
	}
	// Tiny sets still get both halves.
	tr, he := Split(files[:2], 0.01)
	require.Len(t, tr, 1)
	require.Len(t, he, 1)
	tr, he = Split(files[:2], 0.99)
	require.Len(t, tr, 1)
	require.Len(t, he, 1)
}

func TestLoad(t *testing.T) {
	dir := writeTree(t, map[string]string{"a": "hello ", "b": "world", "c": "!"})
	files := []string{filepath.Join(dir, "a"), filepath.Join(dir, "missing"), filepath.Join(dir, "b"), filepath.Join(dir, "c")}
	c, err := Load(files, 0)
	require.NoError(t, err)
	require.Equal(t, "hello world!", string(c.Data))
	c, err = Load(files, 8)
	require.NoError(t, err)
	require.Equal(t, "hello wo", string(c.Data))
	_, err = Load(files[1:2], 0)
	require.Error(t, err)
}

func TestGoRootSources(t *testing.T) {
	src, err := GoRootSources()
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(src, "fmt", "print.go"))
	require.NoError(t, err)
}

func TestBatch(t *testing.T) {
	c := &Corpus{Data: []byte("0123456789abcdefghij")}
	const batch, seq = 3, 5
	tok, tgt := make([]int32, batch*seq), make([]int32, batch*seq)
	r := tensor.NewRNG(1)
	starts := map[int32]bool{}
	for range 200 {
		c.Batch(r, batch, seq, tok, tgt)
		for b := range batch {
			for s := range seq {
				i := b*seq + s
				// The target is the byte after the token, and windows are contiguous.
				off := indexOf(c.Data, byte(tok[b*seq]))
				require.Equal(t, int32(c.Data[off+s]), tok[i])
				require.Equal(t, int32(c.Data[off+s+1]), tgt[i])
			}
			starts[tok[b*seq]] = true
		}
	}
	require.Len(t, starts, len(c.Data)-seq, "every start offset is reachable")

	// Deterministic for a seed.
	tok2, tgt2 := make([]int32, batch*seq), make([]int32, batch*seq)
	c.Batch(tensor.NewRNG(9), batch, seq, tok, tgt)
	c.Batch(tensor.NewRNG(9), batch, seq, tok2, tgt2)
	require.Equal(t, tok, tok2)
	require.Equal(t, tgt, tgt2)
	require.Panics(t, func() { c.Batch(r, 1, 20, tok, tgt) })
}

func indexOf(b []byte, c byte) int {
	for i, v := range b {
		if v == c {
			return i
		}
	}
	return -1
}

func TestSequential(t *testing.T) {
	c := &Corpus{Data: []byte("abcdefghijklmnop")} // 16 bytes: 3 windows of 5 (+1 target)
	tok, tgt := make([]int32, 2*5), make([]int32, 2*5)
	require.Equal(t, 1, c.SequentialBatches(2, 5))
	require.True(t, c.Sequential(0, 2, 5, tok, tgt))
	require.Equal(t, "abcdefghij", bytesOf(tok))
	require.Equal(t, "bcdefghijk", bytesOf(tgt))
	require.False(t, c.Sequential(1, 2, 5, tok, tgt))
	require.Equal(t, 3, c.SequentialBatches(1, 5))
	require.True(t, c.Sequential(2, 1, 5, tok[:5], tgt[:5]))
	require.Equal(t, "klmno", bytesOf(tok[:5]))
	require.Equal(t, "lmnop", bytesOf(tgt[:5]))
	require.False(t, c.Sequential(3, 1, 5, tok[:5], tgt[:5]))
}

func bytesOf(x []int32) string {
	b := make([]byte, len(x))
	for i, v := range x {
		b[i] = byte(v)
	}
	return string(b)
}
