// Package gradmodel is gradmodel.bf generated in float64 by
// `go test ./codegen -update`; its tests check the generated Backward
// against central differences of Forward, and Infer against Forward.
package gradmodel
