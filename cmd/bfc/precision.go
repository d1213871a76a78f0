package main

import (
	"flag"
	"fmt"

	"github.com/bfcdev/bfc/runtime/kernels"
)

// precisionFlag adds -precision, the arithmetic of the generated model's
// products, to fs.
func precisionFlag(fs *flag.FlagSet) *string {
	return fs.String("precision", "float32", "arithmetic of the products: float32, or bf16 (operands rounded to bfloat16, float32 sums; weights, optimizer state and checkpoints stay float32)")
}

// checkPrecision reports whether p is a precision bfc builds, and for bf16
// says in one line what the CPU runs it on.
func checkPrecision(e *env, cmd, p string) bool {
	switch p {
	case "float32":
		return true
	case "bf16":
		if kernels.BF16Native() {
			fmt.Fprintf(e.stderr, "bfc %s: precision bf16 on %s\n", cmd, bf16Unit())
		} else {
			fmt.Fprintf(e.stderr, "bfc %s: precision bf16: this CPU has neither AMX-BF16 nor AVX512_BF16, so the products run on float32 kernels over rounded operands: the same numbers, at float32 speed\n", cmd)
		}
		return true
	}
	fmt.Fprintf(e.stderr, "bfc %s: -precision %q: want float32 or bf16\n", cmd, p)
	return false
}

// bf16Unit names the bf16 implementation for people.
func bf16Unit() string {
	switch kernels.BF16Impl() {
	case "amx":
		return "AMX-BF16 tiles (TDPBF16PS)"
	case "avx512bf16":
		return "AVX512_BF16 (VDPBF16PS)"
	}
	return "float32 kernels over rounded operands"
}
