//go:build !linux

package bench

import "os/exec"

// setProcAttr does nothing here: the bench stops its simcloud process
// itself when it ends.
func setProcAttr(*exec.Cmd) {}
