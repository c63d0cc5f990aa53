package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A daemon that cannot start must not first tell the operator how to use it.
func TestServePortInUsePrintsNoTokenHint(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "kaifuku.conf")
	os.WriteFile(cfg, []byte(fmt.Sprintf("[DEFAULT]\nstate_dir = %s\n[api]\nlisten = %s\n", filepath.Join(dir, "state"), busy.Addr())), 0o600)
	cmd := exec.Command(kaifukuBinary(t), "serve", "--config-file", cfg)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("exit: %v, want 2\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "[api] listen:") || !strings.Contains(stderr.String(), "address already in use") {
		t.Fatalf("stderr does not name the listen problem:\n%s", stderr.String())
	}
	if strings.Contains(stdout.String(), "try: openstack") {
		t.Fatalf("printed how to use a daemon that did not start:\n%s", stdout.String())
	}
}
