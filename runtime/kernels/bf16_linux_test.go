package kernels

import (
	"testing"
	"unsafe"
)

// TestBF16PageEnd runs the conversions on slices that end at an unmapped
// page: masked tails must not touch memory past them.
func TestBF16PageEnd(t *testing.T) {
	src, src2, dst := newPageEnd(t), newPageEnd(t), newPageEnd(t)
	for n := range 50 {
		x0, x1 := src.end(n), src2.end(n)
		RoundBF16s(dst.end(n), x0)
		for i, v := range dst.f[len(dst.f)-n:] {
			if !sameBits(v, RoundBF16(x0[i])) {
				t.Fatalf("n=%d: RoundBF16s[%d] wrong", n, i)
			}
		}
		all := unsafe.Slice((*uint16)(unsafe.Pointer(&dst.f[0])), 2*len(dst.f))
		narrowBF16(all[len(all)-n:], x0)
		pairBF16(all[len(all)-2*n:], x0, x1)
		for i := range n {
			if all[len(all)-2*n+2*i] != uint16(ToBF16(x0[i])) || all[len(all)-2*n+2*i+1] != uint16(ToBF16(x1[i])) {
				t.Fatalf("n=%d: pairBF16[%d] wrong", n, i)
			}
		}
	}
}
