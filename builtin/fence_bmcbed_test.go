//go:build bmcbed

// fence_host_task with the real fence_ipmilan against the BMC bed
// (.ci/bmcbed: one OpenIPMI simulator per host on loopback), which must be
// running (start.sh, as root). Run with
//
//	go test -tags bmcbed -run BMCBed -v ./builtin/
//
// KAIFUKU_BMCBED names the bed's directory (default .ci/bmcbed from the
// module root); the bed's default hosts, ports and credentials are assumed.
// With the tag set, a missing bed fails the tests.
package builtin_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine/fence"
)

func bmcBed(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("KAIFUKU_BMCBED")
	if dir == "" {
		dir = filepath.Join("..", ".ci", "bmcbed")
	}
	if _, err := os.Stat(filepath.Join(dir, "bmc.sh")); err != nil {
		t.Fatalf("no BMC bed at %s (set KAIFUKU_BMCBED): %v", dir, err)
	}
	return dir
}

func bedPower(t *testing.T, dir, host string, set ...string) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(dir, "bmc.sh"), append([]string{"power", host}, set...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("bmc.sh power %s %v: %v: %s", host, set, err, out)
	}
	return strings.TrimSpace(string(out))
}

// bedFencing is compute1's fence_ipmilan section for the bed.
func bedFencing(password string) conf.Fencing {
	opt := func(k, v string) conf.FenceOption { return conf.FenceOption{Key: k, Value: v} }
	return conf.Fencing{Required: true, Timeout: 60 * time.Second, AgentDir: "/usr/sbin", Hosts: map[string]conf.FenceHost{
		"compute1": {Host: "compute1", Agent: "fence_ipmilan", Options: []conf.FenceOption{
			opt("ip", "127.0.0.1"), opt("ipport", "9001"), opt("username", "admin"), opt("password", password),
			opt("lanplus", "1"), opt("cipher", "3"), opt("power_wait", "0"), opt("power_timeout", "10")}},
	}}
}

func TestBMCBedFenceHostPowersOff(t *testing.T) {
	dir := bmcBed(t)
	bedPower(t, dir, "compute1", "on")
	t.Cleanup(func() { bedPower(t, dir, "compute1", "on") })
	h := newHarness(t, aliveCloud("", false))
	h.nova = noDevices{h.cloud}
	h.cfg.Fencing = bedFencing("bmcbed-pass")
	h.wantRun("fence_host_task", hostStore, fencedProgress(fence.PowerOn, fencedForcedDown)...)
	if p := bedPower(t, dir, "compute1"); p != "off" {
		t.Errorf("the bed reports compute1's power %q, want off", p)
	}
	if svc := h.service("compute1"); !svc.ForcedDown {
		t.Errorf("service %+v, want forced down", svc)
	}
	// Fenced again (the periodic retry): already off, fenced at once.
	h.wantRun("fence_host_task", hostStore, fencedProgress(fence.PowerOff, fencedAlreadyForced)...)
}

func TestBMCBedWrongPasswordStopsTheRecovery(t *testing.T) {
	dir := bmcBed(t)
	bedPower(t, dir, "compute1", "on")
	h := newHarness(t, aliveCloud("", false))
	h.nova = noDevices{h.cloud}
	h.cfg.Fencing = bedFencing("not-the-password")
	_, err, _ := h.run(context.Background(), "fence_host_task", hostStore)
	if err == nil || !strings.Contains(err.Error(), "Failed to fence host 'compute1'") ||
		!strings.Contains(err.Error(), "Unable to obtain correct plug status") {
		t.Fatalf("err = %v; want the agent's refusal", err)
	}
	if strings.Contains(err.Error(), "not-the-password") {
		t.Errorf("the error shows the password: %v", err)
	}
	if p := bedPower(t, dir, "compute1"); p != "on" {
		t.Errorf("the bed reports compute1's power %q, want on", p)
	}
	if svc := h.service("compute1"); svc.ForcedDown || svc.Status != "enabled" {
		t.Errorf("service %+v, want untouched", svc)
	}
}
