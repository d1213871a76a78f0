package codegen

import "testing"

func TestExportName(t *testing.T) {
	for in, want := range map[string]string{
		"d": "D", "head_dim": "HeadDim", "nLayers": "NLayers", "_x": "X", "__": "", "a__b": "AB",
		"layers2": "Layers2", "ünits": "Ünits",
	} {
		if got := exportName(in); got != want {
			t.Errorf("exportName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPackageName(t *testing.T) {
	for in, want := range map[string]string{"CharLM": "charlm", "My-Model": "mymodel", "GLaM_2": "glam_2"} {
		if got := packageName(in); got != want {
			t.Errorf("packageName(%q) = %q, want %q", in, got, want)
		}
	}
	for s, want := range map[string]bool{"charlm": true, "main": false, "_": false, "2x": false, "": false, "func": false} {
		if got := validPackage(s); got != want {
			t.Errorf("validPackage(%q) = %v", s, got)
		}
	}
}
