// Package moemodel is moemodel.bf generated in float64 by
// `go test ./codegen -update`; its tests check the generated Backward of a
// model with expert-choice and top-2 moe layers against central
// differences of Forward (with the routing held fixed), Infer against
// Forward, the loss parts and the routing statistics.
package moemodel
