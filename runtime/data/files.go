package data

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// GoRootSources returns the source directory (GOROOT/src) of the Go
// installation, from runtime.GOROOT or else from `go env GOROOT`.
func GoRootSources() (string, error) {
	root := runtime.GOROOT() //nolint:staticcheck // the fallback below covers trimmed binaries
	if root == "" || !isDir(filepath.Join(root, "src")) {
		out, err := exec.Command("go", "env", "GOROOT").Output()
		if err != nil {
			return "", fmt.Errorf("running go env GOROOT: %w", err)
		}
		root = strings.TrimSpace(string(out))
	}
	src := filepath.Join(root, "src")
	if root == "" || !isDir(src) {
		return "", fmt.Errorf("no Go sources found (GOROOT %q)", root)
	}
	return src, nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// Collect returns, sorted and without duplicates, the regular files among
// paths and under the directories among paths whose names end in one of
// exts (every file when exts is empty). Files named directly are always
// kept. Hidden directories (".git") are skipped, and so is anything that
// cannot be read; a path that does not exist is an error.
func Collect(paths []string, exts []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		_ = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if d != nil && d.IsDir() && path != p {
					return fs.SkipDir
				}
				return nil // unreadable: skip
			}
			if d.IsDir() {
				if path != p && strings.HasPrefix(d.Name(), ".") {
					return fs.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() && hasExt(path, exts) {
				files = append(files, path)
			}
			return nil
		})
	}
	slices.Sort(files)
	return slices.Compact(files), nil
}

func hasExt(path string, exts []string) bool {
	if len(exts) == 0 {
		return true
	}
	for _, e := range exts {
		if strings.HasSuffix(path, e) {
			return true
		}
	}
	return false
}

// Split divides files into training and held-out sets. A file is held out
// when the FNV-1a hash of its slash-separated path relative to the files'
// common directory, scaled to [0, 1), is below heldOutFrac, so the split
// does not depend on where the tree lives or on the order of files. With
// 0 < heldOutFrac < 1 and at least two files, both sets are non-empty.
func Split(files []string, heldOutFrac float64) (train, heldOut []string) {
	base := commonDir(files)
	type hashed struct {
		path string
		u    float64
	}
	hs := make([]hashed, len(files))
	for i, f := range files {
		rel, err := filepath.Rel(base, f)
		if err != nil {
			rel = f
		}
		h := fnv.New64a()
		h.Write([]byte(filepath.ToSlash(rel)))
		hs[i] = hashed{f, float64(h.Sum64()>>11) * 0x1p-53}
	}
	held := make([]bool, len(hs))
	nHeld := 0
	for i, h := range hs {
		if h.u < heldOutFrac {
			held[i] = true
			nHeld++
		}
	}
	if len(hs) >= 2 && heldOutFrac > 0 && heldOutFrac < 1 {
		// Keep both sets non-empty: move the extreme hash across.
		if nHeld == 0 {
			held[extreme(hs, func(a, b hashed) bool { return a.u < b.u })] = true
		} else if nHeld == len(hs) {
			held[extreme(hs, func(a, b hashed) bool { return a.u > b.u })] = false
		}
	}
	for i, h := range hs {
		if held[i] {
			heldOut = append(heldOut, h.path)
		} else {
			train = append(train, h.path)
		}
	}
	return train, heldOut
}

// extreme returns the index of the element that is less than all others.
func extreme[T any](xs []T, less func(a, b T) bool) int {
	best := 0
	for i := range xs {
		if less(xs[i], xs[best]) {
			best = i
		}
	}
	return best
}

// commonDir returns the deepest directory containing every file.
func commonDir(files []string) string {
	if len(files) == 0 {
		return ""
	}
	dir := filepath.Dir(files[0])
	for _, f := range files[1:] {
		for !within(f, dir) {
			parent := filepath.Dir(dir)
			if parent == dir {
				return dir
			}
			dir = parent
		}
	}
	return dir
}

func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// Corpus is a training or evaluation text as raw bytes.
type Corpus struct {
	Data []byte
}

// Load concatenates the contents of files into a corpus of at most maxBytes
// bytes (no limit when maxBytes <= 0), cutting the last file short if
// needed. Unreadable files are skipped; an empty result is an error.
func Load(files []string, maxBytes int64) (*Corpus, error) {
	var data []byte
	for _, f := range files {
		if maxBytes > 0 && int64(len(data)) >= maxBytes {
			break
		}
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if maxBytes > 0 && int64(len(data)+len(b)) > maxBytes {
			b = b[:maxBytes-int64(len(data))]
		}
		data = append(data, b...)
	}
	if len(data) == 0 {
		return nil, errors.New("no data: the files are empty or unreadable")
	}
	return &Corpus{Data: data}, nil
}
