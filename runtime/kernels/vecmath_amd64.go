//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

//go:generate sh -c "cd internal/asmgen/vecmath && go run . -out ../../../vecmath_amd64.s -stubs ../../../vecmath_stubs_amd64.go -pkg kernels"

func init() {
	registerVec(&vecImpl{
		name:      "avx2",
		available: cpu.X86.HasAVX2 && cpu.X86.HasFMA,
		exp:       vexpAVX2, expSubSum: vexpSubSumAVX2, expSum: vexpSumAVX2, expSubAcc: vexpSubAccAVX2,
		scale: vscaleAVX2, axpy: vaxpyAVX2, dot: vdotAVX2, max: vmaxAVX2, add: vaddAVX2, nonFinite: vnonFiniteAVX2,
		sum: vsumAVX2, sumSq: vsumSqAVX2, dot3: vdot3AVX2,
		rmsNorm: vrmsNormAVX2, rmsNormBwd: vrmsNormBwdAVX2, layerNorm: vlayerNormAVX2,
		layerNormBwdSums: vlayerNormBwdSumsAVX2, layerNormBwdDx: vlayerNormBwdDxAVX2,
		relu:     vecAct{vReluAVX2, vReluDerivAVX2, vReluBwdAVX2, vReluGluAVX2, vReluGluBwdAVX2},
		sqRelu:   vecAct{vSqReluAVX2, vSqReluDerivAVX2, vSqReluBwdAVX2, vSqReluGluAVX2, vSqReluGluBwdAVX2},
		gelu:     vecAct{vGeluAVX2, vGeluDerivAVX2, vGeluBwdAVX2, vGeluGluAVX2, vGeluGluBwdAVX2},
		geluTanh: vecAct{vGeluTanhAVX2, vGeluTanhDerivAVX2, vGeluTanhBwdAVX2, vGeluTanhGluAVX2, vGeluTanhGluBwdAVX2},
		silu:     vecAct{vSiluAVX2, vSiluDerivAVX2, vSiluBwdAVX2, vSiluGluAVX2, vSiluGluBwdAVX2},
	})
	registerVec(&vecImpl{
		name:      "avx512",
		available: cpu.X86.HasAVX512F,
		exp:       vexpAVX512, expSubSum: vexpSubSumAVX512, expSum: vexpSumAVX512, expSubAcc: vexpSubAccAVX512,
		scale: vscaleAVX512, axpy: vaxpyAVX512, dot: vdotAVX512, max: vmaxAVX512, add: vaddAVX512, nonFinite: vnonFiniteAVX512,
		sum: vsumAVX512, sumSq: vsumSqAVX512, dot3: vdot3AVX512,
		rmsNorm: vrmsNormAVX512, rmsNormBwd: vrmsNormBwdAVX512, layerNorm: vlayerNormAVX512,
		layerNormBwdSums: vlayerNormBwdSumsAVX512, layerNormBwdDx: vlayerNormBwdDxAVX512,
		relu:     vecAct{vReluAVX512, vReluDerivAVX512, vReluBwdAVX512, vReluGluAVX512, vReluGluBwdAVX512},
		sqRelu:   vecAct{vSqReluAVX512, vSqReluDerivAVX512, vSqReluBwdAVX512, vSqReluGluAVX512, vSqReluGluBwdAVX512},
		gelu:     vecAct{vGeluAVX512, vGeluDerivAVX512, vGeluBwdAVX512, vGeluGluAVX512, vGeluGluBwdAVX512},
		geluTanh: vecAct{vGeluTanhAVX512, vGeluTanhDerivAVX512, vGeluTanhBwdAVX512, vGeluTanhGluAVX512, vGeluTanhGluBwdAVX512},
		silu:     vecAct{vSiluAVX512, vSiluDerivAVX512, vSiluBwdAVX512, vSiluGluAVX512, vSiluGluBwdAVX512},
	})
}
