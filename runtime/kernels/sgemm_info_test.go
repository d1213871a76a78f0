package kernels

import (
	"slices"
	"testing"
)

func TestSgemmKernelIsTheBestAvailable(t *testing.T) {
	var avail []string
	for _, s := range sgemmImpls {
		if s.available {
			avail = append(avail, s.name)
		}
	}
	want := avail[len(avail)-1] // registration order is slowest to fastest
	if got := SgemmKernel(); got != want || !slices.Contains(avail, got) {
		t.Errorf("SgemmKernel() = %q; available %v, want %q", got, avail, want)
	}
}
