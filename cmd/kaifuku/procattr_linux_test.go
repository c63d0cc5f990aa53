package main

import (
	"os/exec"
	"syscall"
)

// dieWithTest makes a child process get SIGKILL when the test process dies,
// so that a test killed by its timeout leaves no server behind.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
