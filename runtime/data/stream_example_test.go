package data_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/bfcdev/bfc/runtime/data"
	"github.com/bfcdev/bfc/runtime/tensor"
)

// Training data streamed from a directory: documents in a seeded order,
// some held out, windows sampled without reading the corpus into memory.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "corpus")
	defer os.RemoveAll(dir)
	for i, text := range []string{"first document. ", "second one. ", "and a third. ", "the fourth. "} {
		_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("doc%d.txt", i)), []byte(text), 0o644)
	}

	corpus, err := data.Open([]string{dir}, data.Options{Exts: []string{".txt"}, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer corpus.Close()
	train, heldOut := corpus.Split(0.25)
	defer train.Close()
	defer heldOut.Close()
	fmt.Println(corpus.Size(), train.Size()+heldOut.Size())

	const batch, seq = 2, 8
	tokens, targets := make([]int32, batch*seq), make([]int32, batch*seq)
	if err := train.Batch(tensor.NewRNG(1), batch, seq, tokens, targets); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(tokens), tokens[1] == targets[0])

	_, err = data.Open([]string{filepath.Join(dir, "missing")}, data.Options{})
	fmt.Println(err != nil)
	// Output:
	// 53 53
	// 16 true
	// true
}
