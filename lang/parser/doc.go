// Package parser turns .bf source text into a lang/ast tree with positions,
// reporting syntax errors as positioned diagnostics.
package parser
