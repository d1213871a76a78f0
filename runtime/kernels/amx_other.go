//go:build amd64 && !purego && !linux

package kernels

// amxPermitted reports false: bfc asks only Linux for AMX tile state.
func amxPermitted() bool { return false }
