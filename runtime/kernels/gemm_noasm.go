//go:build !amd64 || purego

package kernels

// Without assembly, float32 GEMM runs on the generic engine alone; no
// micro-kernel is registered.
