package cli

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/bfcdev/bfc/runtime/data"
)

// source is a corpus the trainer reads and then closes.
type source interface {
	data.Source
	Close() error
}

// corpusSeed orders the documents of a corpus (a fixed shuffle, so that a
// byte cap keeps a sample of every directory).
const corpusSeed = 0x5eed

// corpus opens the training and held-out corpora: the files under paths
// (default: the Go standard library's hand-written sources), memory-mapped,
// split by file, the training part cut to maxBytes and the held-out part to
// maxBytes/8. A single file is split by bytes: its tail is held out.
func corpus(paths []string, heldOutFrac float64, maxBytes int64) (trainData, heldOut source, desc string, err error) {
	what := "the files named"
	opt := data.Options{Seed: corpusSeed}
	if len(paths) == 0 {
		root, err := data.GoRootSources()
		if err != nil {
			return nil, nil, "", fmt.Errorf("finding the Go standard library sources: %v\nname the files or directories to train on instead", err)
		}
		files, err := data.Collect([]string{root}, []string{".go"})
		if err != nil {
			return nil, nil, "", err
		}
		paths = handWritten(files)
		what = "the Go standard library in " + root
	}
	all, err := data.Open(paths, opt)
	if err != nil {
		return nil, nil, "", err
	}
	n := len(all.Paths())
	tr, ho := all.Split(heldOutFrac)
	if len(tr.Paths()) > 0 && len(ho.Paths()) > 0 {
		all.Close()
		t, h := tr.Head(maxBytes), ho.Head(maxBytes/8)
		desc = fmt.Sprintf("%s (%d files, %.1f MB), held out %d files (%.1f MB)",
			what, len(tr.Paths()), mb(t.Size()), len(ho.Paths()), mb(h.Size()))
		return t, h, desc, nil
	}
	// One file (or too few to split): hold out its last bytes.
	size := all.Size()
	held := int64(float64(size) * heldOutFrac)
	if maxBytes > 0 {
		held = min(held, maxBytes/8)
	}
	if held < 2 || size-held < 2 {
		all.Close()
		return nil, nil, "", fmt.Errorf("the corpus has %d bytes in %d files: too little to hold some out; name more text", size, n)
	}
	t := all.Head(size - held).Head(maxBytes)
	desc = fmt.Sprintf("%s (%d files, %.1f MB), held out their last %.1f MB", what, n, mb(t.Size()), mb(held))
	return t, &tail{all, size - held}, desc, nil
}

func mb(n int64) float64 { return float64(n) / 1e6 }

// tail is the end of a stream, from off on.
type tail struct {
	s   *data.Stream
	off int64
}

func (t *tail) Size() int64 { return t.s.Size() - t.off }
func (t *tail) Window(off int64, tokens, targets []int32) error {
	if off < 0 {
		return fmt.Errorf("data: window at negative offset %d", off)
	}
	return t.s.Window(t.off+off, tokens, targets)
}
func (t *tail) Close() error { return t.s.Close() }

// handWritten drops test data, generated files (tables, syscall constants)
// and empty files from the default corpus: the model should learn Go as
// people write it.
func handWritten(files []string) []string {
	var out []string
	buf := make([]byte, 512)
	for _, f := range files {
		if strings.Contains(filepath.ToSlash(f), "/testdata/") {
			continue
		}
		if skip(f, buf) {
			continue
		}
		out = append(out, f)
	}
	return out
}

// skip reports whether the file is empty, unreadable or carries Go's
// "Code generated ... DO NOT EDIT." line in its head.
func skip(path string, buf []byte) bool {
	f, err := os.Open(path)
	if err != nil {
		return true
	}
	defer f.Close()
	n, _ := io.ReadFull(f, buf)
	if n == 0 {
		return true
	}
	head := string(buf[:n])
	i := strings.Index(head, "// Code generated ")
	return i >= 0 && strings.Contains(head[i:], "DO NOT EDIT.")
}

// logWriter appends lines to the training log and counts them.
type logWriter struct {
	f     *os.File
	lines int
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.lines++
	return w.f.Write(p)
}

// openLog creates the training log at path, or, when resuming after step,
// keeps the lines of its first step steps and appends to them.
func openLog(path string, resume bool, step int) (*logWriter, error) {
	if !resume {
		f, err := os.Create(path)
		if err != nil {
			return nil, fmt.Errorf("training log: %w", err)
		}
		return &logWriter{f: f}, nil
	}
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("training log: %w", err)
	}
	var kept bytes.Buffer
	lines := 0
	sc := bufio.NewScanner(bytes.NewReader(old))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var rec struct{ Step *int }
		if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.Step == nil || *rec.Step > step {
			continue // written after the checkpoint: the resumed run writes it again
		}
		kept.Write(sc.Bytes())
		kept.WriteByte('\n')
		lines++
	}
	if !bytes.Equal(kept.Bytes(), old) {
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, kept.Bytes(), 0o644); err != nil {
			return nil, fmt.Errorf("training log: %w", err)
		}
		if err := os.Rename(tmp, path); err != nil {
			os.Remove(tmp)
			return nil, fmt.Errorf("training log: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("training log: %w", err)
	}
	return &logWriter{f: f, lines: lines}, nil
}

// overwritable reports an error when path exists and its head does not
// look like what the trainer writes there (kind), so that a mistyped -log
// or -plot does not replace someone's file.
func overwritable(path string, kind func(head []byte) bool) error {
	if path == "" {
		return nil
	}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		return err
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	if n == 0 || kind(head[:n]) {
		return nil
	}
	return fmt.Errorf("%s exists and was not written by the trainer; choose another path or remove it", path)
}

// isSafetensors reports whether head starts with a safetensors header
// length and JSON.
func isSafetensors(head []byte) bool {
	return len(head) > 8 && head[8] == '{' && binary.LittleEndian.Uint64(head) < 100<<20
}

func isLog(head []byte) bool { return bytes.HasPrefix(bytes.TrimSpace(head), []byte("{")) }
func isPNG(head []byte) bool { return bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")) }
