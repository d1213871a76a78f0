package data

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/bfcdev/bfc/runtime/tensor"
	"github.com/stretchr/testify/require"
)

// modes are the two ways a Stream reads; both are checked everywhere.
var modes = []struct {
	name string
	opt  Options
}{
	{"mmap", Options{}},
	{"readat", Options{ReadAt: true}},
	{"mmap-evict", Options{MaxOpen: 1}},
	{"readat-evict", Options{ReadAt: true, MaxOpen: 2}},
}

// textTree writes n files of varied length and content under a fresh
// directory, plus files Open must leave out, and returns the directory and
// the .go files.
func textTree(t *testing.T, n int) (string, []string) {
	t.Helper()
	files := map[string]string{"skip.txt": "not go", "sub/empty.go": "", ".git/x.go": "hidden"}
	r := tensor.NewRNG(5)
	for i := range n {
		b := make([]byte, 1+r.Intn(300))
		for j := range b {
			b[j] = byte(r.Intn(256))
		}
		files[fmt.Sprintf("sub%d/f%02d.go", i%3, i)] = string(b)
	}
	dir := writeTree(t, files)
	var gos []string
	for name, body := range files {
		if strings.HasSuffix(name, ".go") && body != "" && !strings.HasPrefix(name, ".") {
			gos = append(gos, filepath.Join(dir, filepath.FromSlash(name)))
		}
	}
	slices.Sort(gos)
	return dir, gos
}

// concat reads files in order with os.ReadFile: the reference stream.
func concat(t *testing.T, paths []string) []byte {
	var out []byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		out = append(out, b...)
	}
	return out
}

func TestStreamWindows(t *testing.T) {
	dir, gos := textTree(t, 24)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			opt := m.opt
			opt.Exts, opt.Seed = []string{".go"}, 7
			s, err := Open([]string{dir}, opt)
			require.NoError(t, err)
			defer s.Close()
			require.ElementsMatch(t, gos, s.Paths())
			ref := concat(t, s.Paths())
			require.Equal(t, int64(len(ref)), s.Size())

			const seq = 64 // files of 1..300 bytes: many windows span two or more
			tok, tgt := make([]int32, seq), make([]int32, seq)
			for off := int64(0); off+seq < s.Size(); off += 37 {
				require.NoError(t, s.Window(off, tok, tgt))
				require.Equal(t, string(ref[off:off+seq]), bytesOf(tok), "offset %d", off)
				require.Equal(t, string(ref[off+1:off+seq+1]), bytesOf(tgt), "offset %d", off)
			}
			last := s.Size() - seq - 1
			require.NoError(t, s.Window(last, tok, tgt))
			require.Equal(t, string(ref[last+1:]), bytesOf(tgt))
			require.ErrorContains(t, s.Window(last+1, tok, tgt), "does not fit")
			require.ErrorContains(t, s.Window(-1, tok, tgt), "does not fit")

			// Random batches read what an in-memory corpus of the same bytes does.
			const batch = 4
			tb, gb := make([]int32, batch*seq), make([]int32, batch*seq)
			tc, gc := make([]int32, batch*seq), make([]int32, batch*seq)
			r1, r2 := tensor.NewRNG(3), tensor.NewRNG(3)
			mem := &Corpus{Data: ref}
			for range 50 {
				require.NoError(t, s.Batch(r1, batch, seq, tb, gb))
				mem.Batch(r2, batch, seq, tc, gc)
				require.Equal(t, tc, tb)
				require.Equal(t, gc, gb)
			}
			require.Error(t, s.Batch(r1, batch, seq, tb[:seq], gb))
			// Head keeps a prefix, cutting a document short.
			for _, n := range []int64{s.ends[2], s.ends[2] + 1, s.ends[3] - 1, 0, s.Size() + 5} {
				h := s.Head(n)
				want := ref
				if n > 0 && n < s.Size() {
					want = ref[:n]
				}
				require.Equal(t, int64(len(want)), h.Size())
				require.NoError(t, h.Window(h.Size()-seq-1, tok, tgt))
				require.Equal(t, string(want[len(want)-seq:]), bytesOf(tgt))
				require.NoError(t, h.Close())
			}

			require.NoError(t, s.Close())
			require.NoError(t, s.Window(0, tok, tgt), "a closed stream opens its files again")
			require.Equal(t, string(ref[:seq]), bytesOf(tok))
		})
	}
}

func TestStreamShuffleAndSplit(t *testing.T) {
	dir, gos := textTree(t, 40)
	open := func(seed uint64, paths ...string) *Stream {
		s, err := Open(paths, Options{Exts: []string{".go"}, Seed: seed})
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	}
	a := open(1, dir)
	require.ElementsMatch(t, gos, a.Paths())
	require.NotEqual(t, gos, a.Paths(), "shuffled")
	require.Equal(t, a.Paths(), open(1, dir).Paths(), "deterministic for a seed")
	require.NotEqual(t, a.Paths(), open(2, dir).Paths())
	// The same files named in another order, some twice, give the same stream.
	rev := slices.Clone(gos)
	slices.Reverse(rev)
	require.Equal(t, a.Paths(), open(1, append(rev, gos[0], dir)...).Paths())

	train, held := a.Split(0.25)
	defer train.Close()
	defer held.Close()
	wantTrain, wantHeld := Split(gos, 0.25) // by document, as for in-memory corpora
	require.ElementsMatch(t, wantTrain, train.Paths())
	require.ElementsMatch(t, wantHeld, held.Paths())
	require.NotEmpty(t, held.Paths())
	require.Equal(t, a.Size(), train.Size()+held.Size())
	// Each half keeps the shuffled order.
	pos := map[string]int{}
	for i, p := range a.Paths() {
		pos[p] = i
	}
	for _, h := range []*Stream{train, held} {
		require.True(t, slices.IsSortedFunc(h.Paths(), func(x, y string) int { return pos[x] - pos[y] }))
		ref := concat(t, h.Paths())
		tok, tgt := make([]int32, 16), make([]int32, 16)
		require.NoError(t, h.Window(int64(len(ref))-17, tok, tgt))
		require.Equal(t, string(ref[len(ref)-17:len(ref)-1]), bytesOf(tok))
	}
	_, none := a.Split(0)
	require.Zero(t, none.Size())
	tok, tgt := make([]int32, 4), make([]int32, 4)
	require.ErrorContains(t, none.Batch(tensor.NewRNG(1), 1, 4, tok, tgt), "shorter than a window")
}

// TestSpreadBatch checks the evaluation windows against the offsets
// runtime/train's Evaluate has always used.
func TestSpreadBatch(t *testing.T) {
	c := &Corpus{Data: []byte("the quick brown fox jumps over the lazy dog, twice over")}
	const batch, batches, seq = 3, 4, 5
	tok, tgt := make([]int32, batch*seq), make([]int32, batch*seq)
	span := len(c.Data) - seq - 1
	for b := range batches {
		require.NoError(t, SpreadBatch(c, b, batches, batch, seq, tok, tgt))
		for i := range batch {
			off := span * (b*batch + i) / (batch*batches - 1)
			require.Equal(t, string(c.Data[off:off+seq]), bytesOf(tok[i*seq:(i+1)*seq]))
			require.Equal(t, string(c.Data[off+1:off+seq+1]), bytesOf(tgt[i*seq:(i+1)*seq]))
		}
	}
	require.Equal(t, string(c.Data[span+1:]), bytesOf(tgt[(batch-1)*seq:]), "the last window ends the corpus")
	require.Error(t, SpreadBatch(c, batches, batches, batch, seq, tok, tgt))
	require.NoError(t, SpreadBatch(c, 0, 1, 1, seq, tok, tgt))
	require.Equal(t, string(c.Data[:seq]), bytesOf(tok[:seq]))
}

func TestOpenBadInput(t *testing.T) {
	dir := writeTree(t, map[string]string{"empty/a.go": "", "txt/a.txt": "text", "ok/a.go": "package a"})
	if err := os.Mkdir(filepath.Join(dir, "nothing"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		paths []string
		want  string
	}{
		{nil, "no corpus paths"},
		{[]string{filepath.Join(dir, "missing")}, filepath.Join(dir, "missing") + " does not exist"},
		{[]string{filepath.Join(dir, "ok"), filepath.Join(dir, "nothing")}, "directory " + filepath.Join(dir, "nothing") + " holds no files ending in .go"},
		{[]string{filepath.Join(dir, "txt")}, "directory " + filepath.Join(dir, "txt") + " holds no files ending in .go"},
		{[]string{filepath.Join(dir, "empty")}, filepath.Join(dir, "empty") + " holds no bytes"},
		{[]string{filepath.Join(dir, "empty", "a.go")}, filepath.Join(dir, "empty", "a.go") + " holds no bytes"},
	} {
		_, err := Open(c.paths, Options{Exts: []string{".go"}})
		require.ErrorContains(t, err, c.want, "%v", c.paths)
	}
	if os.Getuid() != 0 { // root reads everything
		locked := filepath.Join(dir, "ok", "a.go")
		require.NoError(t, os.Chmod(locked, 0))
		defer os.Chmod(locked, 0o644)
		_, err := Open([]string{locked}, Options{})
		require.ErrorContains(t, err, locked+" cannot be read")
	}
}

// TestStreamFileShrinks cuts a corpus file after opening: before it is
// mapped or opened, and after (for a mapping, reads past the new end would
// be SIGBUS).
func TestStreamFileShrinks(t *testing.T) {
	for _, m := range modes {
		for _, early := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/early=%v", m.name, early), func(t *testing.T) {
				p := filepath.Join(t.TempDir(), "big.txt")
				require.NoError(t, os.WriteFile(p, []byte(strings.Repeat("abcdefgh", 8192)), 0o644))
				s, err := Open([]string{p}, m.opt)
				require.NoError(t, err)
				defer s.Close()
				tok, tgt := make([]int32, 100), make([]int32, 100)
				if !early {
					require.NoError(t, s.Window(0, tok, tgt))
					require.Equal(t, "abcdefgh", bytesOf(tok[:8]))
				}
				require.NoError(t, s.Check())
				require.NoError(t, os.Truncate(p, 0))
				err = s.Window(40000, tok, tgt)
				require.ErrorContains(t, err, p+" shrank to 0 bytes after the corpus was opened (it reads 65536 bytes of it)")
				require.ErrorContains(t, s.Check(), p+" shrank to 0 bytes")
				err = s.Batch(tensor.NewRNG(1), 2, 100, make([]int32, 200), make([]int32, 200))
				require.ErrorContains(t, err, p)
			})
		}
	}
}

// TestStreamLargeCorpus opens a 1 GiB corpus (a sparse file with a few
// written stretches, and small files) and samples it: the heap and the
// resident memory grow by far less than the corpus.
func TestStreamLargeCorpus(t *testing.T) {
	const big = 1 << 30
	dir := t.TempDir()
	p := filepath.Join(dir, "big.txt")
	f, err := os.Create(p)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(big))
	marks := map[int64]string{0: "start of the big file", 123456789: "in the middle", big - 16: "the end of file!"}
	for off, s := range marks {
		_, err := f.WriteAt([]byte(s), off)
		require.NoError(t, err)
	}
	require.NoError(t, f.Close())
	for i := range 3 {
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("small%d.txt", i)), []byte(strings.Repeat(strconv.Itoa(i), 1000)), 0o644))
	}
	for _, m := range modes[:2] {
		t.Run(m.name, func(t *testing.T) {
			before, rssBefore := heapNow(), rss()
			s, err := Open([]string{dir}, m.opt)
			require.NoError(t, err)
			defer s.Close()
			require.Equal(t, int64(big+3000), s.Size())

			// Reference reads with os.File.ReadAt, one window at a time.
			files := map[string]*os.File{}
			for _, p := range s.Paths() {
				f, err := os.Open(p)
				require.NoError(t, err)
				defer f.Close()
				files[p] = f
			}
			refWindow := func(off int64, n int) string {
				var out []byte
				var start int64
				for _, p := range s.Paths() {
					st, _ := files[p].Stat()
					for off < start+st.Size() && len(out) < n {
						k := min(int64(n-len(out)), start+st.Size()-off)
						b := make([]byte, k)
						_, err := files[p].ReadAt(b, off-start)
						require.NoError(t, err)
						out, off = append(out, b...), off+k
					}
					start += st.Size()
				}
				return string(out)
			}
			bigStart := int64(0)
			for _, q := range s.Paths() {
				if q == p {
					break
				}
				bigStart += 1000
			}

			const batch, seq = 8, 256
			tok, tgt := make([]int32, batch*seq), make([]int32, batch*seq)
			r := tensor.NewRNG(11)
			for range 500 {
				require.NoError(t, s.Batch(r, batch, seq, tok, tgt))
			}
			// Spot checks, including the written stretches and the small files.
			offs := []int64{0, s.Size() - seq - 1, bigStart + 123456789 - 3, bigStart + big - 20, 5e8}
			for _, off := range offs {
				require.NoError(t, s.Window(off, tok[:seq], tgt[:seq]))
				want := refWindow(off, seq+1)
				require.Equal(t, want[:seq], bytesOf(tok[:seq]), "offset %d", off)
				require.Equal(t, want[1:], bytesOf(tgt[:seq]), "offset %d", off)
			}
			require.NoError(t, s.Window(bigStart+123456789-3, tok[:16], tgt[:16]))
			require.Equal(t, "\x00\x00\x00in the middle", bytesOf(tok[:16]))

			after, rssAfter := heapNow(), rss()
			const limit = 64 << 20 // 1/16 of the corpus
			require.Less(t, int64(after.HeapAlloc)-int64(before.HeapAlloc), int64(limit), "heap in use")
			require.Less(t, int64(after.HeapSys)-int64(before.HeapSys), int64(limit), "heap reserved")
			if rssBefore > 0 && rssAfter > 0 {
				require.Less(t, rssAfter-rssBefore, int64(2*limit), "resident memory")
			}
		})
	}
}

func heapNow() runtime.MemStats {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m
}

// rss returns the resident set size in bytes (Linux), or 0.
func rss() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// BenchmarkStreamBatch samples 16 windows of 256 bytes from a 64 MiB file
// through a mapping, through ReadAt, and from memory.
func BenchmarkStreamBatch(b *testing.B) {
	const size, batch, seq = 64 << 20, 16, 256
	p := filepath.Join(b.TempDir(), "corpus.txt")
	buf := make([]byte, size)
	r := tensor.NewRNG(1)
	for i := range buf {
		buf[i] = byte(' ' + r.Intn(95))
	}
	require.NoError(b, os.WriteFile(p, buf, 0o644))
	tok, tgt := make([]int32, batch*seq), make([]int32, batch*seq)
	for _, m := range modes[:2] {
		b.Run(m.name, func(b *testing.B) {
			s, err := Open([]string{p}, m.opt)
			require.NoError(b, err)
			defer s.Close()
			r := tensor.NewRNG(2)
			b.SetBytes(batch * seq)
			for b.Loop() {
				if err := s.Batch(r, batch, seq, tok, tgt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("memory", func(b *testing.B) {
		c := &Corpus{Data: buf}
		r := tensor.NewRNG(2)
		b.SetBytes(batch * seq)
		for b.Loop() {
			if err := RandomBatch(c, r, batch, seq, tok, tgt); err != nil {
				b.Fatal(err)
			}
		}
	})
}
