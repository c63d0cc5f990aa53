package main

// Helpers that several of the package's tests share.

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// startSimcloud runs `kaifuku simcloud` on a free port until the test ends
// and returns its URL; a failed test logs its output.
func startSimcloud(t *testing.T, bin, fixture, password string) string {
	t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	sim := exec.Command(bin, "simcloud", "--listen", strings.TrimPrefix(url, "http://"), "--fixture", fixture,
		"--password", password, "--token", "")
	out := &syncWriter{w: &bytes.Buffer{}}
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
func startDaemon(t *testing.T) (*e2eEnv, *daemonProc) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	env := newE2EEnv(t, "")
	return env, env.start(t)
}

// createSegment creates an auto-recovery segment of COMPUTE hosts and
// returns its UUID.
func (d *daemonProc) createSegment(name string, enabled bool, hosts ...string) string {
	d.t.Helper()
	var seg struct {
		Segment struct {
			UUID string `json:"uuid"`
		} `json:"segment"`
	}
	d.mustCall("POST", "/v1/segments", "1.2", map[string]any{"segment": map[string]any{
		"name": name, "recovery_method": "auto", "service_type": "COMPUTE", "enabled": enabled}}, 201, &seg)
	for _, h := range hosts {
		d.mustCall("POST", "/v1/segments/"+seg.Segment.UUID+"/hosts", "", map[string]any{"host": map[string]any{
			"name": h, "type": "COMPUTE", "control_attributes": "SSH"}}, 201, nil)
	}
	return seg.Segment.UUID
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
