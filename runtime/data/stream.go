package data

import (
	"container/list"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/bfcdev/bfc/runtime/tensor"
)

// Options configure Open.
type Options struct {
	// Exts keeps, under directories, only files whose names end in one of
	// these (every file when empty). Files named directly are always kept.
	Exts []string
	// Seed shuffles the order of documents (files) in the stream.
	Seed uint64
	// ReadAt reads with ReadAt instead of memory-mapping the files (the
	// only way on systems without mmap).
	ReadAt bool
	// MaxOpen bounds the files mapped or open at once (default 256).
	MaxOpen int
}

// Stream is a corpus read from files as it is sampled: each file is a
// document, the documents are laid end to end in a shuffled order, and a
// window reads only the bytes (pages) it covers, so a corpus far larger
// than memory works. Files are memory-mapped where the system allows.
//
// Files must not change while a Stream reads them: a file found shorter
// than when it was opened gives an error naming it (a mapped file cut
// within its last page reads as zeros there). A Stream is not safe for
// concurrent use; Close releases its files.
type Stream struct {
	docs    []doc
	ends    []int64 // ends[i]: offset just past document i
	opt     Options
	cache   *fileCache
	scratch []byte
}

type doc struct {
	path string
	size int64
}

// Open makes a Stream of the regular files among paths and under the
// directories among paths (see Collect; Options.Exts filters the latter).
// It reads no contents, only sizes. A missing path, a directory without
// (non-empty) files and a corpus without bytes are errors naming the path.
func Open(paths []string, opt Options) (*Stream, error) {
	if len(paths) == 0 {
		return nil, errors.New("data: no corpus paths given: pass files or directories of text")
	}
	if opt.MaxOpen <= 0 {
		opt.MaxOpen = 256
	}
	if !mmapSupported {
		opt.ReadAt = true
	}
	var docs []doc
	seen := map[string]bool{}
	for _, p := range paths {
		st, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("corpus path %s does not exist: pass existing files or directories", p)
		} else if err != nil {
			return nil, fmt.Errorf("corpus path %s: %w", p, err)
		}
		var found []doc
		if !st.IsDir() {
			size, err := fileSize(p)
			if err != nil {
				return nil, err
			}
			found = append(found, doc{p, size})
		} else {
			files, err := Collect([]string{p}, opt.Exts)
			if err != nil {
				return nil, fmt.Errorf("corpus path %s: %w", p, err)
			}
			if len(files) == 0 {
				what := "files"
				if len(opt.Exts) > 0 {
					what = "files ending in " + strings.Join(opt.Exts, ", ")
				}
				return nil, fmt.Errorf("corpus directory %s holds no %s: name a directory of text files or other extensions", p, what)
			}
			for _, f := range files {
				size, err := fileSize(f)
				if err != nil {
					continue // unreadable under a directory: skipped, as Collect does
				}
				found = append(found, doc{f, size})
			}
		}
		if !slices.ContainsFunc(found, func(d doc) bool { return d.size > 0 }) {
			return nil, fmt.Errorf("corpus path %s holds no bytes: its files are empty or unreadable; name files with text in them", p)
		}
		for _, d := range found {
			if d.size > 0 && !seen[d.path] {
				seen[d.path] = true
				docs = append(docs, d)
			}
		}
	}
	slices.SortFunc(docs, func(a, b doc) int { return strings.Compare(a.path, b.path) })
	perm := tensor.NewRNG(opt.Seed).Perm(len(docs))
	shuffled := make([]doc, len(docs))
	for i, j := range perm {
		shuffled[i] = docs[j]
	}
	return newStream(shuffled, opt), nil
}

// fileSize opens path to check that it can be read and returns its size.
func fileSize(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("corpus file %s cannot be read: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("corpus file %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return 0, fmt.Errorf("corpus file %s is not a regular file", path)
	}
	return st.Size(), nil
}

func newStream(docs []doc, opt Options) *Stream {
	s := &Stream{docs: docs, ends: make([]int64, len(docs)), opt: opt, cache: newFileCache(opt)}
	var end int64
	for i, d := range docs {
		end += d.size
		s.ends[i] = end
	}
	return s
}

// Split divides the documents into training and held-out streams with
// Split's stable hash of their paths; each keeps the shuffled order. The
// two streams open their files independently of s and of each other.
func (s *Stream) Split(heldOutFrac float64) (train, heldOut *Stream) {
	paths := s.Paths()
	_, held := Split(paths, heldOutFrac)
	isHeld := map[string]bool{}
	for _, p := range held {
		isHeld[p] = true
	}
	var tr, ho []doc
	for _, d := range s.docs {
		if isHeld[d.path] {
			ho = append(ho, d)
		} else {
			tr = append(tr, d)
		}
	}
	return newStream(tr, s.opt), newStream(ho, s.opt)
}

// Head returns a stream of the first n bytes of s (all of s when n <= 0
// or n >= s.Size()), cutting its last document short.
func (s *Stream) Head(n int64) *Stream {
	if n <= 0 || n >= s.Size() {
		return newStream(slices.Clone(s.docs), s.opt)
	}
	i := sort.Search(len(s.ends), func(i int) bool { return s.ends[i] >= n })
	docs := slices.Clone(s.docs[:i+1])
	docs[i].size -= s.ends[i] - n
	return newStream(docs, s.opt)
}

// Size returns the total length of the documents in bytes.
func (s *Stream) Size() int64 {
	if len(s.ends) == 0 {
		return 0
	}
	return s.ends[len(s.ends)-1]
}

// Paths returns the documents' paths in stream order.
func (s *Stream) Paths() []string {
	out := make([]string, len(s.docs))
	for i, d := range s.docs {
		out[i] = d.path
	}
	return out
}

// Batch fills tokens and targets with batch random windows of seq bytes
// (see RandomBatch).
func (s *Stream) Batch(r *tensor.RNG, batch, seq int, tokens, targets []int32) error {
	return RandomBatch(s, r, batch, seq, tokens, targets)
}

// Window fills tokens with the bytes at off and targets with the next
// ones; a window may run from one document into the next.
func (s *Stream) Window(off int64, tokens, targets []int32) error {
	seq := len(tokens)
	if err := checkWindow(s.Size(), off, seq, targets); err != nil {
		return err
	}
	buf := s.scratch[:0]
	if cap(buf) < seq+1 {
		buf = make([]byte, 0, seq+1)
	}
	buf = buf[:seq+1]
	s.scratch = buf
	if err := s.read(buf, off); err != nil {
		return err
	}
	for i := range tokens {
		tokens[i] = int32(buf[i])
		targets[i] = int32(buf[i+1])
	}
	return nil
}

// read fills p from the stream at off, which the caller has checked.
func (s *Stream) read(p []byte, off int64) error {
	i := sort.Search(len(s.ends), func(i int) bool { return s.ends[i] > off })
	for len(p) > 0 {
		start := s.ends[i] - s.docs[i].size
		n := min(int64(len(p)), s.ends[i]-off)
		if err := s.cache.read(i, s.docs[i], p[:n], off-start); err != nil {
			return err
		}
		p, off, i = p[n:], off+n, i+1
	}
	return nil
}

// Check reports the first document whose file is now shorter than when the
// stream was opened (or cannot be read).
func (s *Stream) Check() error {
	for _, d := range s.docs {
		st, err := os.Stat(d.path)
		if err != nil {
			return fmt.Errorf("corpus file %s: %w", d.path, err)
		}
		if st.Size() < d.size {
			return shrunk(d, st.Size())
		}
	}
	return nil
}

// Close releases the files the stream has mapped or opened. The stream may
// still be read afterwards: it opens them again.
func (s *Stream) Close() error {
	return s.cache.closeAll()
}

func shrunk(d doc, now int64) error {
	return fmt.Errorf("corpus file %s shrank to %d bytes after the corpus was opened (it reads %d bytes of it): corpus files must not change during training", d.path, now, d.size)
}

// fileCache keeps up to max files mapped or open, least recently used out.
type fileCache struct {
	max    int
	readAt bool
	byDoc  map[int]*list.Element
	lru    list.List // of *handle, most recent first
}

type handle struct {
	doc int
	mem []byte   // the mapping
	f   *os.File // or the open file (Options.ReadAt)
}

func newFileCache(opt Options) *fileCache {
	return &fileCache{max: opt.MaxOpen, readAt: opt.ReadAt, byDoc: map[int]*list.Element{}}
}

func (c *fileCache) read(i int, d doc, p []byte, off int64) error {
	h, err := c.get(i, d)
	if err != nil {
		return err
	}
	if h.mem != nil {
		if copyMapped(p, h.mem[off:]) {
			return nil
		}
	} else if n, err := h.f.ReadAt(p, off); n == len(p) {
		return nil
	} else if err != nil && err != io.EOF {
		return fmt.Errorf("reading corpus file %s: %w", d.path, err)
	}
	// Read past the end: the file has shrunk.
	c.drop(i)
	now := int64(-1)
	if st, err := os.Stat(d.path); err == nil {
		now = st.Size()
	}
	if now >= d.size {
		return fmt.Errorf("reading corpus file %s failed at offset %d of %d bytes", d.path, off, d.size)
	}
	return shrunk(d, now)
}

func (c *fileCache) get(i int, d doc) (*handle, error) {
	if e, ok := c.byDoc[i]; ok {
		c.lru.MoveToFront(e)
		return e.Value.(*handle), nil
	}
	for c.lru.Len() >= c.max {
		c.drop(c.lru.Back().Value.(*handle).doc)
	}
	f, err := os.Open(d.path)
	if err != nil {
		return nil, fmt.Errorf("corpus file %s cannot be read: %w", d.path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("corpus file %s: %w", d.path, err)
	}
	if st.Size() < d.size {
		f.Close()
		return nil, shrunk(d, st.Size())
	}
	h := &handle{doc: i}
	if c.readAt {
		h.f = f
	} else {
		h.mem, err = mmapFile(f, d.size)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("mapping corpus file %s: %w (Options.ReadAt reads without mapping)", d.path, err)
		}
	}
	c.byDoc[i] = c.lru.PushFront(h)
	return h, nil
}

func (c *fileCache) drop(i int) error {
	e, ok := c.byDoc[i]
	if !ok {
		return nil
	}
	delete(c.byDoc, i)
	c.lru.Remove(e)
	h := e.Value.(*handle)
	if h.mem != nil {
		return munmap(h.mem)
	}
	return h.f.Close()
}

func (c *fileCache) closeAll() error {
	var errs []error
	for c.lru.Len() > 0 {
		errs = append(errs, c.drop(c.lru.Front().Value.(*handle).doc))
	}
	return errors.Join(errs...)
}
