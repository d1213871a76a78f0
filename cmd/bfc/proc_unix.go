//go:build unix

package main

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup starts c in a process group of its own.
func ownProcessGroup(c *exec.Cmd) {
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
