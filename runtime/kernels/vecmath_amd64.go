//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

//go:generate sh -c "cd internal/asmgen/vecmath && go run . -out ../../../vecmath_amd64.s -stubs ../../../vecmath_stubs_amd64.go -pkg kernels"

func init() {
	registerVec(&vecImpl{
		name:      "avx2",
		available: cpu.X86.HasAVX2 && cpu.X86.HasFMA,
		exp:       vexpAVX2, expSubSum: vexpSubSumAVX2, expSubAcc: vexpSubAccAVX2,
		gelu: vgeluAVX2, geluTanh: vgeluTanhAVX2, silu: vsiluAVX2,
		geluD: vgeluDerivAVX2, geluTanhD: vgeluTanhDerivAVX2, siluD: vsiluDerivAVX2,
	})
	registerVec(&vecImpl{
		name:      "avx512",
		available: cpu.X86.HasAVX512F,
		exp:       vexpAVX512, expSubSum: vexpSubSumAVX512, expSubAcc: vexpSubAccAVX512,
		gelu: vgeluAVX512, geluTanh: vgeluTanhAVX512, silu: vsiluAVX512,
		geluD: vgeluDerivAVX512, geluTanhD: vgeluTanhDerivAVX512, siluD: vsiluDerivAVX512,
	})
}
