//go:build ignore

// gemm_make.go writes gemm_amd64.s, the float32 GEMM micro-kernels, and
// (with bf16_make.go) bf16_amd64.s:
//
//	go run gemm_make.go bf16_make.go
//
// Every kernel computes one MR×NR tile of C from an A panel addressed by a
// row stride and a k stride (so A is read in place or from a packed panel)
// and a packed kc×NR panel of B. See the stubs in gemm_amd64.go.
package main

import (
	"bytes"
	"fmt"
	"log"
	"os"
)

var out bytes.Buffer

func p(format string, args ...any) { fmt.Fprintf(&out, format+"\n", args...) }

// aAddr returns the address of A row r at the current k: rows 0–4 hang off
// R8, rows 5–9 off R11, rows 10–14 off R12; R9 is the row stride in bytes
// and R10 three times it.
func aAddr(r int) string {
	base := []string{"R8", "R11", "R12"}[r/5]
	switch r % 5 {
	case 0:
		return "(" + base + ")"
	case 1:
		return "(" + base + ")(R9*1)"
	case 2:
		return "(" + base + ")(R9*2)"
	case 3:
		return "(" + base + ")(R10*1)"
	default:
		return "(" + base + ")(R9*4)"
	}
}

// kernel writes one micro-kernel. reg is the register prefix (Y or Z),
// vw the vector width in floats, nv the vectors per row (NR = nv*vw), acc0
// the first accumulator register and bc the broadcast temporaries.
//
// With strided, B is not packed: the kernel takes ldb after b and reads
// B's rows ldb floats apart, prefetching into L2 the next nr columns of
// each row it reads (the panel a caller sweeping column panels uses next)
// when pf is set.
func kernel(name string, mr, nv, vw int, reg string, acc0 int, bcast []int, evex bool, unroll int, strided, pf bool) {
	nr := nv * vw
	acc := func(r, v int) string { return fmt.Sprintf("%s%d", reg, acc0+r*nv+v) }
	cOff := 40
	if strided {
		cOff = 48
		p("// func %s(k int, a *float32, rsa, csa int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)", name)
		p("// %d×%d tile, B read in place.", mr, nr)
		p("TEXT ·%s(SB), NOSPLIT, $0-72", name)
	} else {
		p("// func %s(k int, a *float32, rsa, csa int, b *float32, c *float32, ldc int, alpha, beta float32)", name)
		p("// %d×%d tile.", mr, nr)
		p("TEXT ·%s(SB), NOSPLIT, $0-64", name)
	}
	p("\tMOVQ k+0(FP), CX")
	p("\tMOVQ a+8(FP), R8")
	p("\tMOVQ rsa+16(FP), R9")
	p("\tMOVQ csa+24(FP), R13")
	p("\tMOVQ b+32(FP), DX")
	if strided {
		p("\tMOVQ ldb+40(FP), DI")
		p("\tSHLQ $2, DI")
	}
	p("\tSHLQ $2, R9")
	p("\tSHLQ $2, R13")
	p("\tLEAQ (R9)(R9*2), R10")
	p("\tLEAQ (R8)(R9*4), R11")
	p("\tADDQ R9, R11")
	p("\tLEAQ (R11)(R9*4), R12")
	p("\tADDQ R9, R12")
	for r := range mr {
		for v := range nv {
			if evex {
				p("\tVPXORD %s, %s, %s", acc(r, v), acc(r, v), acc(r, v))
			} else {
				p("\tVXORPS %s, %s, %s", acc(r, v), acc(r, v), acc(r, v))
			}
		}
	}
	p("\tTESTQ CX, CX")
	p("\tJE %s_store", name)
	// step emits one k step; off is B's byte offset from DX.
	step := func(off int) {
		if strided {
			off = 0
			for l := 0; pf && l < nr*4; l += 64 {
				p("\tPREFETCHT1 %d(DX)", nr*4+l)
			}
		}
		for v := range nv {
			p("\tVMOVUPS %d(DX), %s%d", off+v*vw*4, reg, v)
		}
		for r := range mr {
			t := fmt.Sprintf("%s%d", reg, bcast[r%len(bcast)])
			p("\tVBROADCASTSS %s, %s", aAddr(r), t)
			for v := range nv {
				p("\tVFMADD231PS %s, %s%d, %s", t, reg, v, acc(r, v))
			}
		}
		p("\tADDQ R13, R8")
		if mr > 5 {
			p("\tADDQ R13, R11")
		}
		if mr > 10 {
			p("\tADDQ R13, R12")
		}
		if strided {
			p("\tADDQ DI, DX")
		}
	}
	if unroll > 1 {
		p("\tCMPQ CX, $%d", unroll)
		p("\tJB %s_tail", name)
		p("%s_loopu:", name)
		for u := range unroll {
			step(u * nr * 4)
		}
		if !strided {
			p("\tADDQ $%d, DX", unroll*nr*4)
		}
		p("\tSUBQ $%d, CX", unroll)
		p("\tCMPQ CX, $%d", unroll)
		p("\tJAE %s_loopu", name)
		p("%s_tail:", name)
		p("\tTESTQ CX, CX")
		p("\tJE %s_store", name)
	}
	p("%s_loop:", name)
	step(0)
	if !strided {
		p("\tADDQ $%d, DX", nr*4)
	}
	p("\tDECQ CX")
	p("\tJNZ %s_loop", name)

	storeTile(name, reg, mr, nv, vw, acc, cOff)
}

// kernelPacked writes a micro-kernel that reads A from a packed panel
// (a[p*mr + r], mr floats per k step) with constant offsets, so one
// pointer walks A and one walks B. pfB and pfA are how many bytes ahead
// of the current step it prefetches B and A into L1 (0: none); pfC
// prefetches the C tile before the loop.
func kernelPacked(name string, mr, nv, vw int, reg string, acc0 int, bcast []int, unroll, pfA, pfB int, pfC bool) {
	nr := nv * vw
	acc := func(r, v int) string { return fmt.Sprintf("%s%d", reg, acc0+r*nv+v) }
	p("// func %s(k int, a *float32, b *float32, c *float32, ldc int, alpha, beta float32)", name)
	p("// %d×%d tile, A packed.", mr, nr)
	p("TEXT ·%s(SB), NOSPLIT, $0-48", name)
	p("\tMOVQ k+0(FP), CX")
	p("\tMOVQ a+8(FP), R8")
	p("\tMOVQ b+16(FP), DX")
	if pfC {
		p("\tMOVQ c+24(FP), SI")
		p("\tMOVQ ldc+32(FP), BX")
		p("\tSHLQ $2, BX")
		for r := range mr {
			for l := 0; l < nr*4; l += 64 {
				p("\tPREFETCHT0 %d(SI)", l)
			}
			if r < mr-1 {
				p("\tADDQ BX, SI")
			}
		}
	}
	for r := range mr {
		for v := range nv {
			if reg == "Z" {
				p("\tVPXORD %s, %s, %s", acc(r, v), acc(r, v), acc(r, v))
			} else {
				p("\tVXORPS %s, %s, %s", acc(r, v), acc(r, v), acc(r, v))
			}
		}
	}
	step := func(u int) {
		boff := u * nr * 4
		aoff := u * mr * 4
		if pfB > 0 {
			for l := 0; l < nr*4; l += 64 {
				p("\tPREFETCHT0 %d(DX)", pfB+boff+l)
			}
		}
		if pfA > 0 && (aoff%64 == 0 || (aoff/64 != (aoff+mr*4-1)/64)) {
			p("\tPREFETCHT0 %d(R8)", pfA+aoff)
		}
		for v := range nv {
			p("\tVMOVUPS %d(DX), %s%d", boff+v*vw*4, reg, v)
		}
		for r := range mr {
			t := fmt.Sprintf("%s%d", reg, bcast[r%len(bcast)])
			p("\tVBROADCASTSS %d(R8), %s", aoff+r*4, t)
			for v := range nv {
				p("\tVFMADD231PS %s, %s%d, %s", t, reg, v, acc(r, v))
			}
		}
	}
	p("\tSUBQ $%d, CX", unroll)
	p("\tJB %s_tail", name)
	p("%s_loopu:", name)
	for u := range unroll {
		step(u)
	}
	p("\tADDQ $%d, DX", unroll*nr*4)
	p("\tADDQ $%d, R8", unroll*mr*4)
	p("\tSUBQ $%d, CX", unroll)
	p("\tJAE %s_loopu", name)
	p("%s_tail:", name)
	p("\tADDQ $%d, CX", unroll)
	p("\tJE %s_store", name)
	p("%s_loop:", name)
	step(0)
	p("\tADDQ $%d, DX", nr*4)
	p("\tADDQ $%d, R8", mr*4)
	p("\tDECQ CX")
	p("\tJNZ %s_loop", name)

	storeTile(name, reg, mr, nv, vw, acc, 24)
}

// packA12 writes sgemmPackA12AVX512, which packs 12 rows of A (row
// stride lda floats) into a 12-row panel with one masked gather per k.
// storeTile writes a kernel's epilogue: C = alpha·acc + beta·C, or
// alpha·acc when beta is ±0 (C not read). c is the frame offset of the c
// argument, followed by ldc, alpha and beta.
func storeTile(name, reg string, mr, nv, vw int, acc func(r, v int) string, c int) {
	p("%s_store:", name)
	p("\tMOVQ c+%d(FP), SI", c)
	p("\tMOVQ ldc+%d(FP), BX", c+8)
	p("\tSHLQ $2, BX")
	p("\tVBROADCASTSS alpha+%d(FP), %s0", c+16, reg)
	p("\tVBROADCASTSS beta+%d(FP), %s1", c+20, reg)
	p("\tMOVL beta+%d(FP), AX", c+20)
	p("\tANDL $0x7fffffff, AX")
	p("\tJE %s_beta0", name)
	for r := range mr {
		for v := range nv {
			p("\tVMULPS %s0, %s, %s", reg, acc(r, v), acc(r, v))
			p("\tVFMADD231PS %d(SI), %s1, %s", v*vw*4, reg, acc(r, v))
			p("\tVMOVUPS %s, %d(SI)", acc(r, v), v*vw*4)
		}
		if r < mr-1 {
			p("\tADDQ BX, SI")
		}
	}
	p("\tVZEROUPPER")
	p("\tRET")
	p("%s_beta0:", name)
	for r := range mr {
		for v := range nv {
			p("\tVMULPS %s0, %s, %s", reg, acc(r, v), acc(r, v))
			p("\tVMOVUPS %s, %d(SI)", acc(r, v), v*vw*4)
		}
		if r < mr-1 {
			p("\tADDQ BX, SI")
		}
	}
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

func packA12() {
	p("// func sgemmPackA12AVX512(dst *float32, a *float32, lda int, kc int)")
	p("// dst[p*12 + r] = a[r*lda + p] for r < 12, p < kc; 12*lda < 1<<31.")
	p("TEXT ·sgemmPackA12AVX512(SB), NOSPLIT, $0-32")
	p("\tMOVQ dst+0(FP), DI")
	p("\tMOVQ a+8(FP), SI")
	p("\tMOVQ kc+24(FP), CX")
	p("\tVPBROADCASTD lda+16(FP), Z30")
	p("\tVPMULLD ·sgemmIota<>(SB), Z30, Z31")
	p("\tMOVL $0xfff, BX")
	p("\tKMOVW BX, K1")
	p("\tTESTQ CX, CX")
	p("\tJE packa12_done")
	p("packa12_loop:")
	p("\tKMOVW K1, K2")
	p("\tVGATHERDPS (SI)(Z31*4), K2, Z0")
	p("\tVMOVUPS Z0, K1, (DI)")
	p("\tADDQ $4, SI")
	p("\tADDQ $48, DI")
	p("\tDECQ CX")
	p("\tJNZ packa12_loop")
	p("packa12_done:")
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
	for i := range 16 {
		p("DATA ·sgemmIota<>+%d(SB)/4, $%d", 4*i, i)
	}
	p("GLOBL ·sgemmIota<>(SB), RODATA|NOPTR, $64")
	p("")
}

// packB32 writes sgemmPackB32AVX512, which packs a kc×32 panel of B
// (row stride ldb floats) with two zmm loads and stores per row.
func packB32() {
	p("// func sgemmPackB32AVX512(dst *float32, b *float32, ldb int, kc int)")
	p("// dst[p*32 + q] = b[p*ldb + q] for q < 32, p < kc.")
	p("TEXT ·sgemmPackB32AVX512(SB), NOSPLIT, $0-32")
	p("\tMOVQ dst+0(FP), DI")
	p("\tMOVQ b+8(FP), SI")
	p("\tMOVQ ldb+16(FP), DX")
	p("\tSHLQ $2, DX")
	p("\tMOVQ kc+24(FP), CX")
	p("\tTESTQ CX, CX")
	p("\tJE packb32_done")
	p("packb32_loop:")
	p("\tVMOVUPS (SI), Z0")
	p("\tVMOVUPS 64(SI), Z1")
	p("\tVMOVUPS Z0, (DI)")
	p("\tVMOVUPS Z1, 64(DI)")
	p("\tADDQ DX, SI")
	p("\tADDQ $128, DI")
	p("\tDECQ CX")
	p("\tJNZ packb32_loop")
	p("packb32_done:")
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

// packBT32 writes sgemmPackBT32AVX512, which packs a kc×32 panel of a
// transposed B (32 rows of b, row stride ldb): for each 16 k steps it
// loads a 16×16 block from each 16 rows and transposes it in registers
// (unpack, shufps, and two rounds of 128-bit lane shuffles: 64 shuffles
// per 256 floats); the last kc mod 16 steps take two 16-row gathers each.
func packBT32() {
	p("// func sgemmPackBT32AVX512(dst *float32, b *float32, ldb int, kc int)")
	p("// dst[p*32 + q] = b[q*ldb + p] for q < 32, p < kc; 16*ldb < 1<<31.")
	p("TEXT ·sgemmPackBT32AVX512(SB), NOSPLIT, $0-32")
	p("\tMOVQ dst+0(FP), DI")
	p("\tMOVQ b+8(FP), SI")
	p("\tMOVQ ldb+16(FP), DX")
	p("\tSHLQ $2, DX")          // one row, in bytes
	p("\tLEAQ (DX)(DX*2), R10") // three rows
	// Bases of rows 0, 4, 8, 12 (first half) and 16, 20, 24, 28.
	bases := []string{"SI", "R8", "R9", "BX", "AX", "R12", "R13", "R14"}
	for i := 1; i < len(bases); i++ {
		p("\tLEAQ (%s)(DX*4), %s", bases[i-1], bases[i])
	}
	p("\tMOVQ kc+24(FP), CX")
	p("\tCMPQ CX, $16")
	p("\tJLT packbt32_tail")
	p("packbt32_loop:")
	rowAddr := func(base string, r int) string {
		switch r {
		case 0:
			return "(" + base + ")"
		case 1:
			return "(" + base + ")(DX*1)"
		case 2:
			return "(" + base + ")(DX*2)"
		}
		return "(" + base + ")(R10*1)"
	}
	for half := range 2 {
		for r := range 16 {
			p("\tVMOVUPS %s, Z%d", rowAddr(bases[4*half+r/4], r%4), r)
		}
		// Z(4g+c) lane L = rows 4g..4g+3 at column 4L+c.
		for g := range 4 {
			a := 4 * g
			p("\tVUNPCKLPS Z%d, Z%d, Z16", a+1, a)
			p("\tVUNPCKHPS Z%d, Z%d, Z17", a+1, a)
			p("\tVUNPCKLPS Z%d, Z%d, Z18", a+3, a+2)
			p("\tVUNPCKHPS Z%d, Z%d, Z19", a+3, a+2)
			p("\tVSHUFPS $0x44, Z18, Z16, Z%d", a)
			p("\tVSHUFPS $0xee, Z18, Z16, Z%d", a+1)
			p("\tVSHUFPS $0x44, Z19, Z17, Z%d", a+2)
			p("\tVSHUFPS $0xee, Z19, Z17, Z%d", a+3)
		}
		// Column 4L+c gathers lane L of Z(c), Z(4+c), Z(8+c), Z(12+c).
		for c := range 4 {
			p("\tVSHUFF32X4 $0x44, Z%d, Z%d, Z20", 4+c, c)
			p("\tVSHUFF32X4 $0xee, Z%d, Z%d, Z21", 4+c, c)
			p("\tVSHUFF32X4 $0x44, Z%d, Z%d, Z22", 12+c, 8+c)
			p("\tVSHUFF32X4 $0xee, Z%d, Z%d, Z23", 12+c, 8+c)
			p("\tVSHUFF32X4 $0x88, Z22, Z20, Z24")
			p("\tVSHUFF32X4 $0xdd, Z22, Z20, Z25")
			p("\tVSHUFF32X4 $0x88, Z23, Z21, Z26")
			p("\tVSHUFF32X4 $0xdd, Z23, Z21, Z27")
			for l := range 4 {
				p("\tVMOVUPS Z%d, %d(DI)", 24+l, (4*l+c)*128+64*half)
			}
		}
	}
	for _, b := range bases {
		p("\tADDQ $64, %s", b)
	}
	p("\tADDQ $2048, DI")
	p("\tSUBQ $16, CX")
	p("\tCMPQ CX, $16")
	p("\tJGE packbt32_loop")
	p("packbt32_tail:")
	p("\tTESTQ CX, CX")
	p("\tJE packbt32_done")
	p("\tVPBROADCASTD ldb+16(FP), Z30")
	p("\tVPMULLD ·sgemmIota<>(SB), Z30, Z31")
	p("\tMOVL $0xffff, R11")
	p("\tKMOVW R11, K1")
	p("packbt32_gather:")
	p("\tKMOVW K1, K2")
	p("\tKMOVW K1, K3")
	p("\tVGATHERDPS (SI)(Z31*4), K2, Z0")
	p("\tVGATHERDPS (AX)(Z31*4), K3, Z1")
	p("\tVMOVUPS Z0, (DI)")
	p("\tVMOVUPS Z1, 64(DI)")
	p("\tADDQ $4, SI")
	p("\tADDQ $4, AX")
	p("\tADDQ $128, DI")
	p("\tDECQ CX")
	p("\tJNZ packbt32_gather")
	p("packbt32_done:")
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

// packRow32 writes sgemmPackRow32AVX512, which scatters one row of B
// into the same row of consecutive 32-column panels kc rows deep.
func packRow32() {
	p("// func sgemmPackRow32AVX512(dst *float32, src *float32, kc int, panels int)")
	p("// dst[q*kc*32 + j] = src[q*32 + j] for j < 32, q < panels.")
	p("TEXT ·sgemmPackRow32AVX512(SB), NOSPLIT, $0-32")
	p("\tMOVQ dst+0(FP), DI")
	p("\tMOVQ src+8(FP), SI")
	p("\tMOVQ kc+16(FP), DX")
	p("\tSHLQ $7, DX")
	p("\tMOVQ panels+24(FP), CX")
	p("\tTESTQ CX, CX")
	p("\tJE packrow32_done")
	p("packrow32_loop:")
	p("\tVMOVUPS (SI), Z0")
	p("\tVMOVUPS 64(SI), Z1")
	p("\tVMOVUPS Z0, (DI)")
	p("\tVMOVUPS Z1, 64(DI)")
	p("\tADDQ $128, SI")
	p("\tADDQ DX, DI")
	p("\tDECQ CX")
	p("\tJNZ packrow32_loop")
	p("packrow32_done:")
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

func main() {
	p("// Code generated by gemm_make.go. DO NOT EDIT.")
	p("")
	p("//go:build !purego")
	p("")
	p("#include \"textflag.h\"")
	p("")
	// AVX-512: 12×32, 24 zmm accumulators (Z8–Z31), B in Z0–Z1,
	// broadcasts rotate through Z2–Z7.
	kernel("sgemmKernelAVX512", 12, 2, 16, "Z", 8, []int{2, 3, 4, 5, 6, 7}, true, 4, false, false)
	// AVX2+FMA: 6×16, 12 ymm accumulators (Y4–Y15), B in Y0–Y1,
	// broadcasts in Y2–Y3.
	kernel("sgemmKernelAVX2", 6, 2, 8, "Y", 4, []int{2, 3}, false, 4, false, false)
	// The same kernels reading B in place (GemmStreamB with few rows),
	// and shorter tiles for the last rows of such products (an expert's
	// 64 tokens are 5×12 + 4 rows). The L2 prefetch of the next panel
	// halves the time of 64-row products whose B comes from memory.
	const pf = true
	kernel("sgemmKernelAVX512S", 12, 2, 16, "Z", 8, []int{2, 3, 4, 5, 6, 7}, true, 4, true, pf)
	kernel("sgemmKernelAVX2S", 6, 2, 8, "Y", 4, []int{2, 3}, false, 4, true, pf)
	kernel("sgemmKernelAVX512S8", 8, 2, 16, "Z", 8, []int{2, 3, 4, 5, 6, 7}, true, 4, true, pf)
	kernel("sgemmKernelAVX512S4", 4, 2, 16, "Z", 8, []int{2, 3, 4, 5}, true, 4, true, pf)
	kernel("sgemmKernelAVX2S4", 4, 2, 8, "Y", 4, []int{2, 3}, false, 4, true, pf)
	kernel("sgemmKernelAVX2S2", 2, 2, 8, "Y", 4, []int{2, 3}, false, 4, true, pf)
	// The same kernels on packed A panels, prefetching A 384 bytes (eight
	// or sixteen k steps) ahead and the C tile before the loop.
	kernelPacked("sgemmKernelAVX512P", 12, 2, 16, "Z", 8, []int{2, 3, 4, 5, 6, 7}, 4, 384, 0, true)
	kernelPacked("sgemmKernelAVX2P", 6, 2, 8, "Y", 4, []int{2, 3}, 4, 384, 0, true)
	packA12()
	packB32()
	packBT32()
	packRow32()
	if err := os.WriteFile("gemm_amd64.s", out.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	out.Reset()
	bf16Main()
}
