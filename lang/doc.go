// Package lang holds the front end of bfc: source positions and
// diagnostics (lang/source), the syntax tree (lang/ast), the parser
// (lang/parser) and the canonical printer behind `bfc fmt` (lang/printer).
package lang
