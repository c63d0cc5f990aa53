package main

// Helpers that several of the package's tests share.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine/daemon/daemontest"
)

// startSimcloud runs `kaifuku simcloud` on a free port until the test ends
// and returns its URL; a failed test logs its output.
func startSimcloud(t *testing.T, bin, fixture, password string) string {
	t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d", daemontest.FreePort(t))
	sim := exec.Command(bin, "simcloud", "--listen", strings.TrimPrefix(url, "http://"), "--fixture", fixture,
		"--password", password, "--token", "")
	out := &daemontest.Buffer{}
	sim.Stdout, sim.Stderr = out, out
	dieWithTest(sim)
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sim.Process.Kill()
		sim.Wait()
		if t.Failed() {
			t.Logf("simcloud log:\n%s", out.String())
		}
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := shortClient.Get(url + "/"); err == nil {
			resp.Body.Close()
			return url
		}
		if time.Now().After(deadline) {
			t.Fatal("simcloud did not answer")
		}
	}
}

// startDaemon builds and starts the daemon with the end-to-end
// configuration; a -short run skips the test.
func startDaemon(t *testing.T) (*daemontest.Env, *daemonProc) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	env := newE2EEnv(t, "")
	return env, startServe(t, env)
}

// wantAll fails the test for each of wants that what (text) lacks.
func wantAll(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(text, want) {
			t.Errorf("%s lacks %q:\n%s", what, want, text)
		}
	}
}

// novaEnv writes, in dir, the configuration of an engine that drives the
// Nova of `kaifuku simcloud` at simURL, logging in as Masakari's
// privileged user with password, and keeps its notifications in database
// (a connection URL). extra is appended: a section named again adds to it,
// and an option set again wins, as in oslo.config.
func novaEnv(t testing.TB, dir, simURL, password, database, extra string) *daemontest.Env {
	t.Helper()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	port := daemontest.FreePort(t)
	e := &daemontest.Env{Dir: dir, Config: filepath.Join(dir, "kaifuku.conf"), URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	e.Write(t, fmt.Sprintf(`[DEFAULT]
state_dir = %s
os_privileged_user_name = masakari
os_privileged_user_password = %s
os_privileged_user_tenant = service
os_privileged_user_auth_url = %s/v3
os_region_name = RegionOne
[api]
listen = 127.0.0.1:%d
[compute]
driver = nova
[database]
connection = %s
%s`, filepath.Join(dir, "state"), password, simURL, port, database, extra))
	return e
}
