// Package bench holds bfc's side-by-side benchmarks against PyTorch (issue 5,
// shared/design/performance.md). referencemodel is parity/reference.bf
// generated at full size (batch 8 × seq 256, d 256, float32), referencebf16
// the same in bf16 precision; the command bench/block times their forward
// and forward+backward next to PyTorch's (under autocast for bf16), and
// bench/sgemm times bfc's Sgemm next to gonum's and OpenBLAS's (through
// numpy). bench/internal/peer sets up the peers, including the best
// OpenBLAS set-up this machine allows. See docs/benchmarks.md.
package bench

//go:generate go run github.com/bfcdev/bfc/cmd/bfc build -o referencemodel -pkg referencemodel ../parity/reference.bf
//go:generate go run github.com/bfcdev/bfc/cmd/bfc build -precision bf16 -o referencebf16 -pkg referencebf16 ../parity/reference.bf
