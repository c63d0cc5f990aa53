package builtin_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
	"github.com/kaifuku-ha/kaifuku/engine/fence"
)

// aliveCloud is compute1 still up (a false alarm, or a partition) with one
// server, its BMC behaving as bmc.
func aliveCloud(bmc string, poweredOff bool) simulated.Fixture {
	return simulated.Fixture{
		Hosts: []simulated.Host{
			{Name: "compute1", BMC: bmc, PoweredOff: poweredOff},
			{Name: "compute2"},
		},
		Servers: []simulated.Server{haServer(1, "compute1")},
	}
}

func power(t *testing.T, h *harness, host string) fence.Power {
	t.Helper()
	p, err := h.cloud.Fencer().Status(context.Background(), host)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Ends of fence_host_task once compute1 is off: what became of its service.
const (
	fencedForcedDown    = "Forced down compute service on fenced host: 'compute1'"
	fencedAlreadyForced = "Compute service on fenced host 'compute1' is already forced down"
)

// fencedProgress is fence_host_task's progress fencing compute1, whose power
// was before: powered off when it was on, at once when it was off already;
// service is the last message, what became of its compute service.
func fencedProgress(before fence.Power, service string) []entry {
	want := []entry{
		{"Fencing host 'compute1'", 0.0},
		{fmt.Sprintf("Power of host 'compute1' is %s", before), 0.2},
	}
	if before == fence.PowerOn {
		want = append(want, entry{"Powering off host 'compute1'", 0.3})
	}
	return append(want, entry{"Host 'compute1' is powered off", 0.7}, entry{service, 1.0})
}

func TestFenceHostPowersOffAndForcesDown(t *testing.T) {
	h := newHarness(t, aliveCloud("", false))
	h.wantRun("fence_host_task", hostStore, fencedProgress(fence.PowerOn, fencedForcedDown)...)
	if power(t, h, "compute1") != fence.PowerOff {
		t.Error("compute1 is still on")
	}
	svc := h.service("compute1")
	if !svc.ForcedDown || svc.State != "down" || svc.Status != "enabled" {
		t.Errorf("service %+v, want forced down (and still enabled: disabling is the next task's)", svc)
	}
	if n := h.ops("bmc_off"); n != 1 {
		t.Errorf("%d power offs, want 1", n)
	}
	// Then the recovery goes on at once: the service is down, no wait.
	h.succeed("disable_compute_service_task", hostStore)
	if h.elapsed() != 0 {
		t.Errorf("the recovery waited %v of virtual time", h.elapsed())
	}
}

func TestFenceHostAlreadyOff(t *testing.T) {
	h := newHarness(t, aliveCloud("", true))
	h.wantRun("fence_host_task", hostStore, fencedProgress(fence.PowerOff, fencedForcedDown)...)
	if n := h.ops("bmc_off"); n != 0 {
		t.Errorf("a host already off was powered off %d times", n)
	}
}

func TestFenceHostFailureStopsTheRecovery(t *testing.T) {
	for _, tc := range []struct {
		bmc, want string
	}{
		{"refuse", "Failed to fence host 'compute1' (cannot read its power state), so it is not recovered: BMC of host \"compute1\" refused the login (wrong credentials)"},
		{"unreachable", "Failed to fence host 'compute1' (cannot read its power state), so it is not recovered: BMC of host \"compute1\" is unreachable: connection timed out"},
		{"stuck", "Failed to fence host 'compute1' (power off failed), so it is not recovered: BMC of host \"compute1\" took the command but the power did not go off"},
		{"hang", "Failed to fence host 'compute1' (cannot read its power state), so it is not recovered: no answer within [fencing] timeout (50ms)"},
	} {
		t.Run(tc.bmc, func(t *testing.T) {
			h := newHarness(t, aliveCloud(tc.bmc, false))
			h.cfg.Fencing.Timeout = 50 * time.Millisecond
			_, err, _ := h.run(context.Background(), "fence_host_task", hostStore)
			wantFailure(t, err, tc.want)
			svc := h.service("compute1")
			if svc.ForcedDown || svc.State != "up" || svc.Status != "enabled" {
				t.Errorf("service %+v, want untouched", svc)
			}
			wantOffs := 0
			if tc.bmc == "stuck" {
				wantOffs = 1
				if power(t, h, "compute1") != fence.PowerOn {
					t.Error("the stuck BMC's power went off")
				}
			}
			if n := h.ops("bmc_off"); n != wantOffs {
				t.Errorf("%d power offs, want %d", n, wantOffs)
			}
		})
	}
}

func TestFenceHostWithoutDevice(t *testing.T) {
	h := newHarness(t, aliveCloud("", false))
	h.nova = noDevices{h.cloud} // a cloud without BMCs, such as Nova
	_, err, _ := h.run(context.Background(), "fence_host_task", hostStore)
	if err == nil || !strings.Contains(err.Error(), "no fencing device configured (add a [fencing:compute1] section)") {
		t.Fatalf("err = %v", err)
	}
	h.cfg.Fencing.Required = false
	h.wantRun("fence_host_task", hostStore,
		entry{"Fencing host 'compute1'", 0.0},
		entry{"Host 'compute1' has no fencing device and [fencing] required is false; not fenced", 1.0})
	if svc := h.service("compute1"); svc.ForcedDown {
		t.Error("an unfenced host was forced down")
	}
}

// noDevices hides the simulated cloud's BMCs.
type noDevices struct{ *simulated.Cloud }

func (noDevices) Fencer() {}
