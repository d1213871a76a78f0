// Package stdlib holds the .bf sources of bfc's standard blocks, embedded
// into the bfc binary. A .bf file reads them with import "std/NAME.bf", which
// the checker resolves to NAME.bf in FS.
//
// The package has no logic and imports nothing but embed, so every part of
// bfc may depend on it.
package stdlib

import "embed"

// FS holds every standard-library .bf file at its root:
//
//   - transformer.bf: the dense Transformer block and its gated (GLaM-style)
//     variant;
//   - glam.bf: GLaM, a pair of layers, the first with a top-2 mixture of
//     experts, the second with a dense GEGLU FFN;
//   - switch.bf: Switch, attention and a top-1 mixture of experts;
//   - brainformer.bf: Brainformer6 and Brainformer8, reconstructions of the
//     Brainformer blocks with expert-choice routing over group position.
//
//go:embed *.bf
var FS embed.FS
