// Package stdlib holds the .bf sources of bfc's standard blocks, embedded
// into the bfc binary. A .bf file reads them with import "std/NAME.bf", which
// the checker resolves to NAME.bf in FS.
//
// The package has no logic and imports nothing but embed, so every part of
// bfc may depend on it.
package stdlib

import "embed"

// FS holds every standard-library .bf file at its root: transformer.bf holds
// the dense Transformer block and its gated (GLaM-style) variant.
//
//go:embed *.bf
var FS embed.FS
