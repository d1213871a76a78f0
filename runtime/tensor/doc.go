// Package tensor holds what generated bfc models share besides kernels:
// named parameters with their gradients, a deterministic random number
// generator and parameter initializers.
package tensor
