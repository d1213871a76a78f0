package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// MaxHeaderSize bounds the JSON header Read accepts.
const MaxHeaderSize = 100 << 20

// File is a decoded safetensors file.
type File struct {
	Metadata map[string]string
	Tensors  []Tensor // sorted by name
}

// Get returns the tensor called name.
func (f *File) Get(name string) (Tensor, bool) {
	i, ok := slices.BinarySearchFunc(f.Tensors, name, func(t Tensor, n string) int { return strings.Compare(t.Name, n) })
	if !ok {
		return Tensor{}, false
	}
	return f.Tensors[i], true
}

// Load reads and validates the safetensors file at path.
func Load(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	file, err := Read(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return file, nil
}

// headerEntry is one tensor's header record.
type headerEntry struct {
	DType   string  `json:"dtype"`
	Shape   []int64 `json:"shape"`
	Offsets []int64 `json:"data_offsets"`
}

// Read decodes a safetensors file of size bytes from r. It checks the header
// length, the JSON, every dtype, shape and offset pair, and that the
// tensors tile the data section exactly, before reading any data.
func Read(r io.ReaderAt, size int64) (*File, error) {
	if size < 8 {
		return nil, fmt.Errorf("safetensors: truncated: %d bytes, need at least 8 for the header length", size)
	}
	var nb [8]byte
	if err := readFull(r, nb[:], 0); err != nil {
		return nil, fmt.Errorf("safetensors: reading header length: %w", err)
	}
	hlen := binary.LittleEndian.Uint64(nb[:])
	if hlen > MaxHeaderSize {
		return nil, fmt.Errorf("safetensors: header length %d exceeds the %d-byte limit", hlen, MaxHeaderSize)
	}
	if int64(hlen) > size-8 {
		return nil, fmt.Errorf("safetensors: header length %d runs past the end of a %d-byte file", hlen, size)
	}
	hdr := make([]byte, hlen)
	if err := readFull(r, hdr, 8); err != nil {
		return nil, fmt.Errorf("safetensors: reading header: %w", err)
	}
	dataStart := 8 + int64(hlen)
	dataLen := size - dataStart

	file, entries, names, err := parseHeader(hdr)
	if err != nil {
		return nil, err
	}
	// Check each entry, then that they tile [0, dataLen).
	order := make([]int, len(entries))
	for i, e := range entries {
		order[i] = i
		if err := checkEntry(names[i], e, dataLen); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(entries[a].Offsets[0], entries[b].Offsets[0]), cmp.Compare(entries[a].Offsets[1], entries[b].Offsets[1]))
	})
	var pos int64
	for _, i := range order {
		b := entries[i].Offsets[0]
		switch {
		case b < pos:
			return nil, fmt.Errorf("safetensors: tensor %q: data_offsets [%d,%d] overlap the previous tensor", names[i], b, entries[i].Offsets[1])
		case b > pos:
			return nil, fmt.Errorf("safetensors: tensor %q: data_offsets start at %d, leaving a gap after %d", names[i], b, pos)
		}
		pos = entries[i].Offsets[1]
	}
	if pos != dataLen {
		return nil, fmt.Errorf("safetensors: tensors cover %d bytes but the data section has %d", pos, dataLen)
	}

	data := make([]byte, dataLen)
	if err := readFull(r, data, dataStart); err != nil {
		return nil, fmt.Errorf("safetensors: reading data: %w", err)
	}
	file.Tensors = make([]Tensor, len(entries))
	for i, e := range entries {
		shape := make([]int, len(e.Shape))
		for j, d := range e.Shape {
			shape[j] = int(d)
		}
		b, en := e.Offsets[0], e.Offsets[1]
		file.Tensors[i] = Tensor{Name: names[i], DType: e.DType, Shape: shape, Data: data[b:en:en]}
	}
	slices.SortFunc(file.Tensors, func(a, b Tensor) int { return strings.Compare(a.Name, b.Name) })
	return file, nil
}

func readFull(r io.ReaderAt, buf []byte, off int64) error {
	n, err := r.ReadAt(buf, off)
	if n == len(buf) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// parseHeader decodes the JSON header, rejecting duplicate keys.
func parseHeader(hdr []byte) (*File, []headerEntry, []string, error) {
	dec := json.NewDecoder(bytes.NewReader(hdr))
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("safetensors: header is not JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, nil, fmt.Errorf("safetensors: header is not a JSON object")
	}
	file := &File{}
	var entries []headerEntry
	var names []string
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, nil, fmt.Errorf("safetensors: header is not JSON: %w", err)
		}
		key := tok.(string) // object keys are strings
		if seen[key] {
			return nil, nil, nil, fmt.Errorf("safetensors: header names %q twice", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, nil, fmt.Errorf("safetensors: header is not JSON: %w", err)
		}
		if key == metadataKey {
			if err := json.Unmarshal(raw, &file.Metadata); err != nil {
				return nil, nil, nil, fmt.Errorf("safetensors: %s must map strings to strings: %w", metadataKey, err)
			}
			continue
		}
		var e headerEntry
		d := json.NewDecoder(bytes.NewReader(raw))
		d.DisallowUnknownFields()
		if err := d.Decode(&e); err != nil {
			return nil, nil, nil, fmt.Errorf("safetensors: tensor %q: bad header entry: %w", key, err)
		}
		entries = append(entries, e)
		names = append(names, key)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, nil, nil, fmt.Errorf("safetensors: header is not JSON: %w", err)
	}
	if rest := bytes.TrimLeft(hdr[dec.InputOffset():], " \t\r\n"); len(rest) != 0 {
		return nil, nil, nil, fmt.Errorf("safetensors: header has trailing data after the JSON object")
	}
	return file, entries, names, nil
}

// checkEntry validates one tensor's dtype, shape and offsets against a data
// section of dataLen bytes.
func checkEntry(name string, e headerEntry, dataLen int64) error {
	if name == "" {
		return fmt.Errorf("safetensors: tensor with an empty name")
	}
	size, ok := dtypeSize(e.DType)
	if !ok {
		return fmt.Errorf("safetensors: tensor %q: unknown dtype %q (want F32, F64, I32 or I64)", name, e.DType)
	}
	if e.Shape == nil {
		return fmt.Errorf("safetensors: tensor %q: missing shape", name)
	}
	if len(e.Offsets) != 2 {
		return fmt.Errorf("safetensors: tensor %q: data_offsets must be [begin, end], got %v", name, e.Offsets)
	}
	b, en := e.Offsets[0], e.Offsets[1]
	if b < 0 || en < b || en > dataLen {
		return fmt.Errorf("safetensors: tensor %q: data_offsets [%d,%d] outside the %d-byte data section", name, b, en, dataLen)
	}
	shape := make([]int, len(e.Shape))
	for i, d := range e.Shape {
		if d < 0 || int64(int(d)) != d {
			return fmt.Errorf("safetensors: tensor %q: invalid dimension %d in shape %v", name, d, e.Shape)
		}
		shape[i] = int(d)
	}
	n, ok := numel(shape, dataLen/int64(size)+1)
	if !ok || n*int64(size) != en-b {
		return fmt.Errorf("safetensors: tensor %q: shape %v of %s does not match its %d bytes at [%d,%d]", name, e.Shape, e.DType, en-b, b, en)
	}
	return nil
}
