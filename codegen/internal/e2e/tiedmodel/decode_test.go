package tiedmodel

import (
	"strings"
	"testing"
)

// TestNoDecoder: this model's attention is not causal, so a position
// depends on later ones; NewDecoder refuses, naming the layer.
func TestNoDecoder(t *testing.T) {
	_, err := New(Options{Seed: 5}).NewDecoder(MaxBatch)
	if err == nil || !strings.Contains(err.Error(), "tiedmodel: no decoder: blocks.0.attn: attention is not causal") {
		t.Errorf("NewDecoder: %v", err)
	}
}
