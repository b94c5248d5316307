package e2e

import (
	"os/exec"
	"syscall"
)

// dieWithParent asks the kernel to send SIGTERM to c's process if the test
// binary dies without stopping it (a panic, a timeout), so that no TSA is
// left running.
func dieWithParent(c *exec.Cmd) {
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
