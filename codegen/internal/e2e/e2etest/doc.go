// Package e2etest holds the checks that the tests of the generated packages
// under codegen/internal/e2e share: gradients against central differences,
// inference against the training forward pass, causality, input
// validation and repeatability. It works on any generated model through
// the Model interface.
package e2etest
