package fence

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/conf"
)

// fakeAgent is a fence agent in sh: it records its arguments and stdin in
// its directory, keeps the power state in the file "power" there and acts
// on the file "mode": ok, refuse (wrong password), stuck (off never takes),
// hang (never ends, with a child in its process group).
const fakeAgent = `#!/bin/sh
dir=$(dirname "$0")
mode=$(cat "$dir/mode" 2>/dev/null || echo ok)
# hang: at once, so the child is there before any timeout
if [ "$mode" = hang ]; then sleep 300 & echo $! > "$dir/child"; wait; fi
echo "$#" > "$dir/argc"
cat > "$dir/stdin"
action=$(sed -n 's/^action=//p' "$dir/stdin")
pw=$(sed -n 's/^password=//p' "$dir/stdin")
echo "/usr/lib/python3/dist-packages/fencing.py:1: DeprecationWarning: 'pipes' is deprecated" >&2
case "$mode" in
refuse)
	echo "2024-01-01 00:00:00,000 ERROR: Failed: Unable to obtain correct plug status or plug is not available (password $pw)" >&2
	exit 1 ;;
esac
case "$action" in
status)
	[ "$(cat "$dir/power")" = off ] && exit 2
	exit 0 ;;
off)
	if [ "$mode" = stuck ]; then
		echo "2024-01-01 00:00:00,000 ERROR: Failed: Timed out waiting to power OFF" >&2
		exit 1
	fi
	echo off > "$dir/power"
	exit 0 ;;
esac
exit 1
`

func writeAgent(t *testing.T, mode string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "fence_fake")
	if err := os.WriteFile(path, []byte(fakeAgent), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{"power": "on", "mode": mode} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func agents(path string, timeout time.Duration, opts ...conf.FenceOption) *Agents {
	return NewAgents(conf.Fencing{Timeout: timeout, Hosts: map[string]conf.FenceHost{
		"compute1": {Host: "compute1", Agent: path, Options: opts},
	}})
}

func TestAgentStatusAndOff(t *testing.T) {
	path := writeAgent(t, "ok")
	dir := filepath.Dir(path)
	a := agents(path, 10*time.Second,
		conf.FenceOption{Key: "ip", Value: "10.0.0.11"}, conf.FenceOption{Key: "password", Value: "s3cret"})
	ctx := context.Background()

	p, err := a.Status(ctx, "compute1")
	if err != nil || p != PowerOn {
		t.Fatalf("Status = %v, %v; want on", p, err)
	}
	if got := read(t, filepath.Join(dir, "argc")); got != "0" {
		t.Errorf("the agent got %s arguments; want none (options go on stdin)", got)
	}
	if got, want := read(t, filepath.Join(dir, "stdin")), "action=status\nip=10.0.0.11\npassword=s3cret"; got != want {
		t.Errorf("stdin = %q, want %q", got, want)
	}
	if err := a.Off(ctx, "compute1"); err != nil {
		t.Fatalf("Off: %v", err)
	}
	if got := read(t, filepath.Join(dir, "stdin")); !strings.HasPrefix(got, "action=off\n") {
		t.Errorf("stdin of off = %q", got)
	}
	if p, err := a.Status(ctx, "compute1"); err != nil || p != PowerOff {
		t.Fatalf("Status after off = %v, %v; want off", p, err)
	}
}

func TestAgentFailureMasksSecrets(t *testing.T) {
	path := writeAgent(t, "refuse")
	a := agents(path, 10*time.Second, conf.FenceOption{Key: "password", Value: "s3cret"})
	err := a.Off(context.Background(), "compute1")
	if err == nil {
		t.Fatal("Off succeeded with a refusing agent")
	}
	msg := err.Error()
	if strings.Contains(msg, "s3cret") {
		t.Errorf("the error shows the password: %s", msg)
	}
	for _, want := range []string{`"compute1"`, "(off)", "exit status 1", "Failed: Unable to obtain correct plug status", "(password ***)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "DeprecationWarning") {
		t.Errorf("the error gives a warning as the reason: %s", msg)
	}
}

func TestAgentStuckOffFails(t *testing.T) {
	path := writeAgent(t, "stuck")
	err := agents(path, 10*time.Second).Off(context.Background(), "compute1")
	if err == nil || !strings.Contains(err.Error(), "Timed out waiting to power OFF") {
		t.Fatalf("Off = %v; want the agent's timeout", err)
	}
}

func TestAgentHungIsKilledWithItsGroup(t *testing.T) {
	path := writeAgent(t, "hang")
	start := time.Now()
	_, err := agents(path, 2*time.Second).Status(context.Background(), "compute1")
	if err == nil || !strings.Contains(err.Error(), "did not finish within 2s and was killed") {
		t.Fatalf("Status = %v; want a timeout", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the hung agent held kaifuku for %v", d)
	}
	pid, perr := strconv.Atoi(read(t, filepath.Join(filepath.Dir(path), "child")))
	if perr != nil {
		t.Fatal(perr)
	}
	// The child is killed with the group; give the kernel a moment to reap.
	deadline := time.Now().Add(3 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the agent's child %d survived", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAgentPasswordFile(t *testing.T) {
	path := writeAgent(t, "refuse")
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("from-file\nsecond line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := NewAgents(conf.Fencing{Timeout: 10 * time.Second, Hosts: map[string]conf.FenceHost{
		"compute1": {Host: "compute1", Agent: path, PasswordFile: pwFile},
	}})
	err := a.Off(context.Background(), "compute1")
	if err == nil || strings.Contains(err.Error(), "from-file") {
		t.Fatalf("Off = %v; want a failure without the password", err)
	}
	if got := read(t, filepath.Join(filepath.Dir(path), "stdin")); got != "action=off\npassword=from-file" {
		t.Errorf("stdin = %q", got)
	}

	if err := os.Remove(pwFile); err != nil {
		t.Fatal(err)
	}
	if err := a.Off(context.Background(), "compute1"); err == nil || !strings.Contains(err.Error(), "password_file") {
		t.Errorf("Off without the password file = %v", err)
	}
}

func TestNotConfigured(t *testing.T) {
	a := agents("/nonexistent/fence_x", time.Second)
	if _, err := a.Status(context.Background(), "compute9"); !errors.Is(err, ErrNotConfigured) {
		t.Errorf("Status of an unknown host = %v", err)
	}
	f := For(a, nil)
	if err := f.Off(context.Background(), "compute9"); !errors.Is(err, ErrNotConfigured) || !strings.Contains(err.Error(), "[fencing:compute9]") {
		t.Errorf("For(...).Off of an unknown host = %v", err)
	}
	fb := &recorder{}
	if err := For(a, fb).Off(context.Background(), "compute9"); err != nil || fb.off != "compute9" {
		t.Errorf("the fallback was not used: %v %q", err, fb.off)
	}
}

type recorder struct{ off string }

func (r *recorder) Status(context.Context, string) (Power, error) { return PowerOn, nil }
func (r *recorder) Off(_ context.Context, host string) error      { r.off = host; return nil }

func TestIsSecret(t *testing.T) {
	for k, want := range map[string]bool{"password": true, "passwd": true, "snmp-priv-passwd": true, "hexadecimal_kg": true,
		"secret_key": true, "token": true, "ip": false, "ipport": false, "username": false, "lanplus": false} {
		if got := isSecret(k); got != want {
			t.Errorf("isSecret(%q) = %v", k, got)
		}
	}
}
