//go:build bmcbed

// kaifuku serve with the Nova driver against a kaifuku simcloud subprocess,
// fencing compute1 with the real fence_ipmilan through the BMC bed
// (.ci/bmcbed, which must be running). Run with
//
//	go test -tags bmcbed -run BMCBed -v ./cmd/kaifuku/
//
// testbed.BMC finds the bed (KAIFUKU_BMCBED); the bed's default hosts,
// ports and credentials are assumed.
// The simulated Nova cannot see the bed's power: the test reads it from the
// bed (bmc.sh power), and the simulated services from simcloud.
package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine/testbed"
)

type fenceSnapshot struct {
	Servers []struct {
		Name, Host, Status string
	} `json:"servers"`
	Services []struct {
		Host, Status string
		ForcedDown   bool `json:"forced_down"`
	} `json:"services"`
}

// A host whose Nova heartbeat is still fresh is powered off through its
// BMC, forced down and evacuated at once; with a wrong password, a stuck
// chassis or a dead BMC the notification ends error and neither the host's
// service nor its servers are touched.
func TestBMCBedServeFencesBeforeEvacuating(t *testing.T) {
	bed := testbed.BMC(t)
	bin := kaifukuBinary(t)
	for _, c := range []struct {
		name, password, port, fault string
		fenced                      bool
		reason                      string
	}{
		{name: "fenced", password: "bmcbed-pass", port: "9001", fenced: true},
		{name: "wrong password", password: "not-the-password", port: "9001", reason: "Unable to obtain correct plug status"},
		{name: "stuck chassis", password: "bmcbed-pass", port: "9001", fault: "stuck", reason: "Failed to fence host 'compute1'"},
		{name: "dead BMC", password: "bmcbed-pass", port: "9000", reason: "Failed to fence host 'compute1'"},
	} {
		t.Run(c.name, func(t *testing.T) {
			bed.Run(t, "power", "compute1", "on")
			if c.fault != "" {
				bed.Run(t, "fault", "compute1", c.fault)
			}
			t.Cleanup(func() {
				bed.Run(t, "fault", "compute1", "none")
				bed.Run(t, "power", "compute1", "on")
			})
			tmp := t.TempDir()
			fixture, err := filepath.Abs(filepath.Join("testdata", "fence-cloud.json"))
			if err != nil {
				t.Fatal(err)
			}
			const novaPassword = "s1mcl0ud-pa55word"
			simURL := startSimcloud(t, bin, fixture, novaPassword)
			d := startServe(t, novaEnv(t, tmp, simURL, novaPassword, "sqlite:///"+filepath.Join(tmp, "kaifuku.db"), fmt.Sprintf(`[taskflow_driver_recovery_flows]
host_auto_failure_recovery_tasks = pre:['fence_host_task', 'disable_compute_service_task'],main:['prepare_HA_enabled_instances_task'],post:['evacuate_instances_task']
[fencing:compute1]
agent = fence_ipmilan
ip = 127.0.0.1
ipport = %s
username = admin
password = %s
lanplus = 1
cipher = 3
power_wait = 0
power_timeout = 6
`, c.port, c.password)))
			d.setupSegment("compute1", "compute2")
			start := time.Now()
			id := d.Notify("COMPUTE_HOST", "compute1", map[string]string{"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"})
			n := d.WaitFinal(id, 90*time.Second)
			t.Logf("%s: notification %s after %.1f s", c.name, n.Notification.Status, time.Since(start).Seconds())
			var snap fenceSnapshot
			getJSON(t, simURL+"/sim/snapshot", &snap)
			power := bed.Run(t, "power", "compute1")
			if c.fenced {
				if n.Notification.Status != "finished" {
					t.Fatalf("status %s, want finished: %+v\n%s", n.Notification.Status, n.Notification.Details, d.log())
				}
				if power != "off" {
					t.Errorf("the bed reports compute1's power %q, want off", power)
				}
				for _, s := range snap.Servers {
					if s.Host != "compute2" || s.Status != "ACTIVE" {
						t.Errorf("server %s: %s on %s, want ACTIVE on compute2", s.Name, s.Status, s.Host)
					}
				}
				for _, s := range snap.Services {
					if s.Host == "compute1" && (!s.ForcedDown || s.Status != "disabled") {
						t.Errorf("compute1's service %+v, want forced down and disabled", s)
					}
				}
			} else {
				if n.Notification.Status != "error" {
					t.Fatalf("status %s, want error: %+v", n.Notification.Status, n.Notification.Details)
				}
				if !strings.Contains(d.log(), c.reason) {
					t.Errorf("the log does not give the reason %q:\n%s", c.reason, d.log())
				}
				if power != "on" {
					t.Errorf("the bed reports compute1's power %q, want on", power)
				}
				for _, s := range snap.Servers {
					if s.Host != "compute1" {
						t.Errorf("server %s moved to %s although compute1 was not fenced", s.Name, s.Host)
					}
				}
				for _, s := range snap.Services {
					if s.Host == "compute1" && (s.ForcedDown || s.Status != "enabled") {
						t.Errorf("compute1's service %+v, want it left enabled and up", s)
					}
				}
			}
			for _, secret := range []string{c.password, novaPassword} {
				if strings.Contains(d.log(), secret) {
					t.Errorf("a password is in the daemon's log")
				}
			}
		})
	}
}
