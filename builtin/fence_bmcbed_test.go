//go:build bmcbed

// fence_host_task with the real fence_ipmilan against the BMC bed
// (.ci/bmcbed: one OpenIPMI simulator per host on loopback), which must be
// running (start.sh, as root). Run with
//
//	go test -tags bmcbed -run BMCBed -v ./builtin/
//
// testbed.BMC finds the bed (KAIFUKU_BMCBED); the bed's default hosts,
// ports and credentials are assumed. With the tag set, a missing bed fails
// the tests.
package builtin_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine/fence"
	"github.com/kaifuku-ha/kaifuku/engine/testbed"
)

// bedPower reads host's power from the bed, or with set sets it.
func bedPower(t *testing.T, bed testbed.BMCBed, host string, set ...string) string {
	t.Helper()
	return bed.Run(t, append([]string{"power", host}, set...)...)
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
	bed := testbed.BMC(t)
	bedPower(t, bed, "compute1", "on")
	t.Cleanup(func() { bedPower(t, bed, "compute1", "on") })
	h := newHarness(t, aliveCloud("", false))
	h.nova = noDevices{h.cloud}
	h.cfg.Fencing = bedFencing("bmcbed-pass")
	h.wantRun("fence_host_task", hostStore, fencedProgress(fence.PowerOn, fencedForcedDown)...)
	if p := bedPower(t, bed, "compute1"); p != "off" {
		t.Errorf("the bed reports compute1's power %q, want off", p)
	}
	if svc := h.service("compute1"); !svc.ForcedDown {
		t.Errorf("service %+v, want forced down", svc)
	}
	// Fenced again (the periodic retry): already off, fenced at once.
	h.wantRun("fence_host_task", hostStore, fencedProgress(fence.PowerOff, fencedAlreadyForced)...)
}

func TestBMCBedWrongPasswordStopsTheRecovery(t *testing.T) {
	bed := testbed.BMC(t)
	bedPower(t, bed, "compute1", "on")
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
	if p := bedPower(t, bed, "compute1"); p != "on" {
		t.Errorf("the bed reports compute1's power %q, want on", p)
	}
	if svc := h.service("compute1"); svc.ForcedDown || svc.Status != "enabled" {
		t.Errorf("service %+v, want untouched", svc)
	}
}
