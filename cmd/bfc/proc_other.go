//go:build !unix

package main

import "os/exec"

// ownProcessGroup leaves c in bfc's process group.
func ownProcessGroup(*exec.Cmd) {}

// killGroup kills c's process.
func killGroup(c *exec.Cmd) error {
	if c.Process == nil {
		return nil
	}
	return c.Process.Kill()
}
