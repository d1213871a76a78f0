// Package source defines positions in .bf files and positioned diagnostics,
// printed as file.bf:line:col: message.
package source
