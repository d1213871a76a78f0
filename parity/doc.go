// Package parity checks generated bfc models against an independent PyTorch
// implementation of the same blocks (torch/bfc_torch.py), exchanging weights,
// batches, losses, logits and gradients through safetensors files. See
// docs/parity.md. The tests skip, saying why, where /usr/bin/python3 cannot
// import torch, and fail instead when CI=1 or BFC_REQUIRE_TORCH=1.
package parity

//go:generate go run github.com/bfcdev/bfc/cmd/bfc build -o densemodel -pkg densemodel dense.bf
//go:generate go run github.com/bfcdev/bfc/cmd/bfc build -o moemodel -pkg moemodel moe.bf
//go:generate go run github.com/bfcdev/bfc/cmd/bfc build -o routesmodel -pkg routesmodel routes.bf
//go:generate go run github.com/bfcdev/bfc/cmd/bfc build -o referencemodel -pkg referencemodel -set vocab=64 -set d=32 -set heads=2 -set batch=2 -set seq=16 reference.bf
//go:generate go run github.com/bfcdev/bfc/cmd/bfc build -precision bf16 -o densebf16 -pkg densebf16 dense.bf
//go:generate go run github.com/bfcdev/bfc/cmd/bfc build -precision bf16 -o referencebf16 -pkg referencebf16 -set vocab=64 -set d=32 -set heads=2 -set batch=2 -set seq=16 reference.bf
