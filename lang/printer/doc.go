// Package printer formats .bf syntax trees in the canonical style of
// bfc fmt:
//
//   - 4-space indentation, one statement per line;
//   - arguments and parameters as "name: value" separated by ", ";
//   - binary operators between spaces (4 * d, d / heads), unary minus
//     attached (-x), parentheses exactly as written;
//   - imports first, then declarations; a blank line after the imports and
//     around every block, model and search declaration; between constants,
//     and between the statements of a body, a blank line of the source is
//     kept (at most one);
//   - every comment kept: a comment on a line of its own stays on a line of
//     its own before what follows it (or before the closing brace), a comment
//     at the end of a line stays at the end of that line, and the end-of-line
//     comments of consecutive lines with the same indentation line up in one
//     column;
//   - a parameter, argument, block or value list ([a, b, c]) is written on
//     one line, unless its first element starts on a line after the opening
//     bracket or a comment falls inside it: then it is written one element
//     per line, each followed by a comma, with the closing bracket on a line
//     of its own.
//
// A comment inside an expression that cannot break (4 * // c) moves to a
// line of its own before the line that holds the expression. Formatting is
// idempotent, and re-parsing the output gives the same tree and the same
// comments in the same order (ast.Equal).
package printer
