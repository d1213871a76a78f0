// Package ir is bfc's intermediate representation: a model as straight-line
// lists of kernel-level instructions over 2-D values whose row count is either
// static or the run-time token count T = batch*seq. The forward list ends in
// the loss; autodiff appends the backward list. The text form (Print) is
// stable and is what `bfc ir` shows.
package ir
