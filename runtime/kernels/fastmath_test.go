package kernels

import (
	"math"
	"testing"
)

func TestExpFast(t *testing.T) {
	worst := 0.0
	for x := -87.0; x <= 88; x += 0.000731 {
		want := math.Exp(x)
		got := expFast(x)
		if e := math.Abs(got-want) / want; e > worst {
			worst = e
		}
	}
	if worst > 2e-8 {
		t.Fatalf("expFast: worst relative error %g, want < 2e-8", worst)
	}
	if expFast(-100) != 0 || !math.IsInf(expFast(100), 1) {
		t.Fatal("expFast does not saturate like float32 exp")
	}
	if !math.IsNaN(expFast(math.NaN())) {
		t.Fatal("expFast(NaN) is not NaN")
	}
}

func TestErfFast(t *testing.T) {
	worst := 0.0
	for x := -6.0; x <= 6; x += 0.0001 {
		if e := math.Abs(erfFast(x) - math.Erf(x)); e > worst {
			worst = e
		}
	}
	if worst > 1.5e-7 {
		t.Fatalf("erfFast: worst absolute error %g, want < 1.5e-7", worst)
	}
	if erfFast(math.Inf(1)) != 1 || erfFast(math.Inf(-1)) != -1 {
		t.Fatal("erfFast(±Inf) is not ±1")
	}
}
