package check

import (
	"errors"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/bfcdev/bfc/lang/ast"
	"github.com/bfcdev/bfc/lang/parser"
	"github.com/bfcdev/bfc/lang/source"
)

// file is one loaded .bf file.
type file struct {
	name    string // display name: the user's path, or std/NAME.bf
	stdName string // NAME.bf inside Config.Std, for standard-library files
	root    bool
	src     []byte
	ast     *ast.File // nil if the file could not be read or parsed
	readErr string    // why the file could not be read
	state   loadState
}

type loadState uint8

const (
	unvisited loadState = iota
	visiting
	visited
)

// stackEntry is one link of the import chain being loaded: file imports
// the next entry's file at pos.
type stackEntry struct {
	file *file
	pos  source.Pos
}

const stdPrefix = "std/"

// addRoot loads a root file; src nil means read it with Config.ReadFile.
func (c *checker) addRoot(p string, src []byte) {
	key := filepath.Clean(p)
	if c.byKey[key] != nil {
		return
	}
	f := &file{name: p, root: true}
	c.byKey[key] = f
	c.files = append(c.files, f)
	if src == nil {
		b, err := c.cfg.ReadFile(p)
		if err != nil {
			c.errorf(source.Pos{File: p}, ImportNotFound, "cannot read %s: %s", p, readError(err))
			c.incomplete = true
			return
		}
		src = b
	}
	c.parse(f, src)
}

// parse parses src as the contents of f, reporting syntax errors.
func (c *checker) parse(f *file, src []byte) {
	f.src = src
	c.srcs[f.name] = src
	af, err := parser.Parse(f.name, src)
	if err != nil {
		c.incomplete = true
		var l source.List
		if errors.As(err, &l) {
			for _, d := range l {
				// The parser's other code (BadFile: a file over its size
				// limit) is a syntax-level rejection too.
				d.Code = BadSyntax
			}
			c.diags = append(c.diags, l...)
		} else {
			c.errorf(source.Pos{File: f.name, Line: 1, Col: 1}, BadSyntax, "%v", err)
		}
		return
	}
	f.ast = af
}

// loadImports visits the roots depth first, loading every import, and
// leaves c.order with imports before their importers.
func (c *checker) loadImports() {
	roots := append([]*file(nil), c.files...)
	for _, f := range roots {
		if f.ast != nil && f.state == unvisited {
			c.visit(f)
		}
	}
	for i, f := range c.files {
		c.fileIndex[f] = i
	}
}

func (c *checker) visit(f *file) {
	f.state = visiting
	c.stack = append(c.stack, stackEntry{file: f})
	for _, imp := range f.ast.Imports {
		pos := importPos(f, imp)
		child := c.importFile(f, imp, pos)
		if child == nil || child.ast == nil {
			continue
		}
		switch child.state {
		case visiting:
			c.importCycle(f, child, pos)
		case unvisited:
			c.stack[len(c.stack)-1].pos = pos
			c.visit(child)
		}
	}
	c.stack = c.stack[:len(c.stack)-1]
	f.state = visited
	c.order = append(c.order, f)
}

// importCycle reports that from's import of to, at pos, closes a cycle.
func (c *checker) importCycle(from, to *file, pos source.Pos) {
	k := len(c.stack) - 1
	for k > 0 && c.stack[k].file != to {
		k--
	}
	chain := []string{}
	for _, e := range c.stack[k:] {
		chain = append(chain, e.file.name)
	}
	chain = append(chain, to.name)
	d := c.errorf(pos, ImportCycle, "import cycle: %s; remove one of these imports", strings.Join(chain, " imports "))
	for i, e := range c.stack[k:] {
		next := to
		if k+i+1 < len(c.stack) {
			next = c.stack[k+i+1].file
		}
		p := e.pos
		if e.file == from {
			p = pos
		}
		note(d, p, "%s imports %s", e.file.name, next.name)
	}
}

// importFile returns the file imp names, loading it on first use. It
// reports files that cannot be read and returns nil for them.
func (c *checker) importFile(from *file, imp *ast.Import, pos source.Pos) *file {
	p := imp.Path
	var key, name, stdName string
	switch {
	case p == "":
		c.errorf(pos, ImportNotFound, "empty import path; want \"std/NAME.bf\" or a path relative to %s", from.name)
		c.incomplete = true
		return nil
	case strings.HasPrefix(p, stdPrefix):
		stdName = path.Clean(strings.TrimPrefix(p, stdPrefix))
	case from.stdName != "":
		stdName = path.Join(path.Dir(from.stdName), p)
	default:
		name = p
		if !filepath.IsAbs(p) {
			name = filepath.Join(filepath.Dir(from.name), p)
		}
		key = filepath.Clean(name)
	}
	if stdName != "" || key == "" {
		key = "std:" + stdName
		name = stdPrefix + stdName
	}
	f := c.byKey[key]
	if f == nil {
		f = &file{name: name, stdName: stdName}
		c.byKey[key] = f
		c.files = append(c.files, f)
		var src []byte
		var err error
		if stdName != "" {
			if !fs.ValidPath(stdName) {
				err = fs.ErrNotExist
			} else {
				src, err = fs.ReadFile(c.std, stdName)
			}
		} else {
			src, err = c.cfg.ReadFile(name)
		}
		if err != nil {
			f.readErr = readError(err)
		} else {
			c.parse(f, src)
		}
	}
	if f.readErr != "" {
		c.incomplete = true
		if f.stdName != "" {
			std := c.stdFiles()
			c.errorf(pos, ImportNotFound, "%s is not in the standard library%s; it has %s", f.name, didYouMean(f.name, std), oneOf(std))
		} else {
			c.errorf(pos, ImportNotFound, "cannot find import %q: %s", p, f.readErr)
		}
		return nil
	}
	return f
}

// stdFiles lists the standard library's files as std/NAME.bf.
func (c *checker) stdFiles() []string {
	var out []string
	_ = fs.WalkDir(c.std, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".bf") {
			out = append(out, stdPrefix+p)
		}
		return nil
	})
	sort.Strings(out)
	if len(out) == 0 {
		out = []string{"no files"}
	}
	return out
}

// readError describes a read failure without repeating the path.
func readError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	if errors.Is(err, fs.ErrNotExist) {
		return "no such file"
	}
	return err.Error()
}

// importPos is the position of an import's path string.
func importPos(f *file, imp *ast.Import) source.Pos {
	p := parser.Pos(imp.Pos)
	src := f.src
	off := imp.Pos.Offset + len("import")
	if p.File == "" {
		p.File = f.name
	}
	if off > len(src) || imp.Pos.Offset < 0 {
		return p
	}
	line, col := p.Line, p.Col+len("import")
	for off < len(src) {
		switch {
		case src[off] == '"':
			return source.Pos{File: p.File, Offset: off, Line: line, Col: col}
		case src[off] == '\n':
			line, col = line+1, 1
		case src[off] == '/' && off+1 < len(src) && src[off+1] == '/':
			for off < len(src) && src[off] != '\n' {
				off++
			}
			continue
		default:
			col++
		}
		off++
	}
	return p
}
