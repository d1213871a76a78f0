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

// killGroup kills c's process group (c runs in its own).
func killGroup(c *exec.Cmd) error {
	if c.Process == nil {
		return nil
	}
	return syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
}
