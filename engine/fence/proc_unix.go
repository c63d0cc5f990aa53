//go:build unix

package fence

import (
	"os/exec"
	"syscall"
	"time"
)

// inGroup runs cmd in a process group of its own and makes cancelling its
// context kill the whole group: a hung agent's ipmitool or ssh goes with it.
func inGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A grandchild that escaped the group could hold stderr open.
	cmd.WaitDelay = 2 * time.Second
}
