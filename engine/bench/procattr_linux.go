//go:build linux

package bench

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the simcloud process get SIGKILL if the bench dies
// first, so that none outlives it.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
