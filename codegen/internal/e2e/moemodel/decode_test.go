package moemodel

import (
	"strings"
	"testing"
)

// TestNoDecoder: the top-2 layers route over group batch (leak: allow),
// which decoding one position at a time does not reproduce; NewDecoder
// names the first of them.
func TestNoDecoder(t *testing.T) {
	_, err := New(Options{Seed: 1}).NewDecoder(MaxBatch)
	if err == nil || !strings.Contains(err.Error(), "moemodel: no decoder: blocks.0.top2: top_k routes over group batch") {
		t.Errorf("NewDecoder: %v", err)
	}
}
