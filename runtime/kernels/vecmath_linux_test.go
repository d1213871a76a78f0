package kernels

import (
	"syscall"
	"testing"
	"unsafe"
)

// pageEnd returns a float32 slice of n elements that ends where an
// inaccessible page begins, so that any read or write past its end faults.
type pageEnd struct{ f []float32 }

func newPageEnd(t *testing.T) pageEnd {
	ps := syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 2*ps, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mprotect(mem[ps:], syscall.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	return pageEnd{unsafe.Slice((*float32)(unsafe.Pointer(&mem[0])), ps/4)}
}

func (p pageEnd) end(n int) []float32 {
	s := p.f[len(p.f)-n:]
	for i := range s {
		s[i] = 0.5 + float32(i%7)/8
	}
	return s
}

// TestVecPageEnd runs every kernel on slices that end at an unmapped page:
// the masked tails must not touch memory past the slice.
func TestVecPageEnd(t *testing.T) {
	var p [5]pageEnd
	for i := range p {
		p[i] = newPageEnd(t)
	}
	forEachVec(t, func(t *testing.T, v *vecImpl) {
		for n := 0; n <= vecMaxLen; n++ {
			a, b, c, d, e := p[0].end(n), p[1].end(n), p[2].end(n), p[3].end(n), p[4].end(n)
			v.exp(a, b)
			v.expSubSum(a, b, 1)
			v.expSum(b, 1)
			v.expSubAcc(a, b, 1, 0.5)
			v.scale(a, b, 2)
			v.max(b)
			v.add(a, b, c)
			v.nonFinite(b)
			v.sum(b)
			v.sumSq(b, 0.25)
			v.dot3(a, b, c)
			v.rmsNorm(a, b, c, 0.5)
			v.rmsNormBwd(a, b, c, d, e, 0.5, 0.25)
			v.layerNorm(a, b, c, d, 0.25, 0.5)
			v.layerNormBwdSums(a, b, c, d, e, 0.25, 0.5)
			v.layerNormBwdDx(a, b, c, d, 0.25, 0.5, 0.1, 0.2)
			for _, k := range derivKernels {
				f := v.act(k.act)
				f.fwd(a, b)
				f.deriv(a, b, c)
				f.bwd(a, b, c)
				f.glu(a, b, c)
				f.gluBwd(a, b, c, d, e)
			}
		}
	})
}
