//go:build !linux

package e2e

import "os/exec"

// dieWithParent is a no-op where the kernel offers no parent-death signal.
func dieWithParent(c *exec.Cmd) {}
