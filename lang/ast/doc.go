// Package ast declares the syntax tree of .bf files. The node types double as
// the participle grammar (see lang/parser); every node records where it begins
// and ends. Names are not resolved here: that is the compiler's job.
package ast
