// Command bfc compiles .bf block specifications: it checks them (bfc check),
// formats them (bfc fmt), prints their IR (bfc ir), counts parameters and
// FLOPs (bfc stats) and generates Go packages that train and serve the
// model (bfc build).
//
// Usage:
//
//	bfc check [-e] [-set name=value]... FILE.bf...
//	bfc fmt [-w] [-l] [-d] [FILE.bf...]
//	bfc build [-o DIR] [-pkg NAME] [-model NAME] [-dtype float32|float64] [-inference] [-set name=value]... FILE.bf
//	bfc ir [-set name=value]... FILE.bf
//	bfc stats [-json] [-set name=value]... FILE.bf
//	bfc version
//
// Exit status: 0 on success, 1 when the input has errors (reported on
// stderr as file:line:col: message), 2 for usage errors.
package main
