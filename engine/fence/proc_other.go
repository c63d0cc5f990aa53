//go:build !unix

package fence

import (
	"os/exec"
	"time"
)

// inGroup only bounds the wait where there are no process groups.
func inGroup(cmd *exec.Cmd) { cmd.WaitDelay = 2 * time.Second }
