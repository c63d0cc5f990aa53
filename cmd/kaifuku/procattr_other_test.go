//go:build !linux

package main

import "os/exec"

// dieWithTest is Linux-only (Pdeathsig); elsewhere the test's cleanup kills
// the child.
func dieWithTest(*exec.Cmd) {}
