package train

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// Checkpoint metadata keys that name the model a checkpoint belongs to.
const (
	MetaSource = "bfc.source" // a ModelSource as JSON
	MetaModel  = "bfc.model"  // the model's name (as in Program.Models)
)

// ModelSource is the .bf source a model was generated from. Training
// checkpoints record it (MetaSource) so that a checkpoint alone is enough to
// rebuild its model: bfc sample does.
type ModelSource struct {
	Main  string            `json:"main"`          // the file compiled, as it was named
	Files map[string]string `json:"files"`         // every user file the compiler read, by the path it asked for
	Model string            `json:"model"`         // the model's name in the .bf files
	Set   map[string]string `json:"set,omitempty"` // constant overrides (bfc -set)
}

// Encode returns s as the JSON stored under MetaSource.
func (s *ModelSource) Encode() string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // strings only: cannot fail
	}
	return string(b)
}

// DecodeModelSource parses a MetaSource value.
func DecodeModelSource(text string) (*ModelSource, error) {
	var s ModelSource
	if err := json.Unmarshal([]byte(text), &s); err != nil {
		return nil, fmt.Errorf("%s metadata is not valid: %v", MetaSource, err)
	}
	if s.Main == "" || s.Files[s.Main] == "" {
		return nil, fmt.Errorf("%s metadata lacks the main .bf file", MetaSource)
	}
	return &s, nil
}

// CheckpointSource returns the .bf source recorded in the checkpoint at
// path, or an error saying that it has none.
func CheckpointSource(path string) (*ModelSource, error) {
	md, err := ReadMetadata(path)
	if err != nil {
		return nil, err
	}
	text, ok := md[MetaSource]
	if !ok {
		return nil, fmt.Errorf("%s records no .bf source (no %s metadata): it was not written by bfc train or a program of runtime/train/cli; sample it with the program that trained it", path, MetaSource)
	}
	s, err := DecodeModelSource(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// maxHeader bounds the safetensors header ReadMetadata reads.
const maxHeader = 100 << 20

// ReadMetadata returns the __metadata__ of the safetensors file at path,
// reading only its header.
func ReadMetadata(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var nb [8]byte
	if _, err := io.ReadFull(f, nb[:]); err != nil {
		return nil, fmt.Errorf("%s: not a safetensors file (too short)", path)
	}
	n := binary.LittleEndian.Uint64(nb[:])
	if n < 2 || n > maxHeader {
		return nil, fmt.Errorf("%s: not a safetensors file (header length %d)", path, n)
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(f, hdr); err != nil {
		return nil, fmt.Errorf("%s: not a safetensors file (truncated header)", path)
	}
	var h struct {
		Metadata map[string]string `json:"__metadata__"`
	}
	if err := json.Unmarshal(hdr, &h); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%s: not a safetensors file (header is not JSON)", path)
		}
		return nil, fmt.Errorf("%s: safetensors metadata: %v", path, err)
	}
	if h.Metadata == nil {
		h.Metadata = map[string]string{}
	}
	return h.Metadata, nil
}
