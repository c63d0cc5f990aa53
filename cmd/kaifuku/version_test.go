package main

import (
	"runtime"
	"strings"
	"testing"
)

// kaifuku version and kaifuku --version print the same line: the module
// version and the Go version.
func TestVersion(t *testing.T) {
	cmdOut, _, err := execute(t, "version")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cmdOut, "kaifuku ") || !strings.Contains(cmdOut, "("+runtime.Version()) || strings.Count(cmdOut, "\n") != 1 {
		t.Errorf("kaifuku version: %q", cmdOut)
	}
	flagOut, _, err := execute(t, "--version")
	if err != nil {
		t.Fatal(err)
	}
	if flagOut != cmdOut {
		t.Errorf("kaifuku --version %q, kaifuku version %q", flagOut, cmdOut)
	}
}
