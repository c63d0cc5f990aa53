package builtin_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
)

var hostStore = engine.Store{"host_name": "compute1", "notification_uuid": "9b2e8ad0-2a4c-4a8e-b1f1-0c3e5d7f9a11"}

// disableProgress is the progress of disable_compute_service_task on
// compute1: its first message, between, then its last.
func disableProgress(between ...entry) []entry {
	out := append([]entry{{"Disabling compute service on host: 'compute1'", 0.0}}, between...)
	return append(out, entry{"Disabled compute service on host: 'compute1'", 1.0})
}

// waitingDown is the progress entry of the wait for Nova to see compute1 down.
var waitingDown = entry{"Waiting for Nova to report compute service on host 'compute1' down before disabling it", 0.2}

func TestDisableComputeServiceOfAHostAlreadyDown(t *testing.T) {
	h := newHarness(t, failedHostCloud())
	out, err, got := h.run(context.Background(), "disable_compute_service_task", hostStore)
	if err != nil || len(out) != 0 {
		t.Fatalf("out %v, err %v", out, err)
	}
	wantProgress(t, got, disableProgress()...)
	svc := h.service("compute1")
	if svc.Status != "disabled" || svc.DisabledReason == nil || *svc.DisabledReason != "Masakari detected host failed." {
		t.Fatalf("service %+v, want disabled with Masakari's reason", svc)
	}
	if svc.ForcedDown || h.ops("force_down") != 0 {
		t.Fatal("forced down without force_down_service")
	}
	// No fixed sleep: Masakari would have slept 180 s here.
	if h.elapsed() != 0 {
		t.Fatalf("took %s of virtual time, want 0", h.elapsed())
	}
}

// justFailed is a cloud whose compute1 has just died: Nova reports it up for
// service_down_time (60 s) more, and disabling it before then costs the RPC
// timeout (60 s).
func justFailed() simulated.Fixture {
	fx := failedHostCloud(haServer(1, "compute1"))
	fx.Hosts[0].State, fx.Hosts[0].Failed = "", true
	return fx
}

func TestSimulatedCloudHasTheRPCTrap(t *testing.T) {
	// What Masakari does: disable at once. The simulated Nova answers after
	// its RPC timeout, as the real one does; the tests below rely on it.
	h := newHarness(t, justFailed())
	svcs, err := h.cloud.ListServices(context.Background(), "compute1", "nova-compute")
	if err != nil || len(svcs) != 1 || svcs[0].State != "up" {
		t.Fatalf("services %+v, %v; want compute1 still reported up", svcs, err)
	}
	if _, err := h.cloud.UpdateService(context.Background(), svcs[0].ID, compute.ServiceUpdate{Status: new("disabled")}); err != nil {
		t.Fatal(err)
	}
	if h.elapsed() != 60*time.Second {
		t.Fatalf("disable of a service still seen up took %s, want the 60s RPC timeout", h.elapsed())
	}
}

func TestDisableComputeServiceWaitsForDownAndNeverPaysTheRPCTimeout(t *testing.T) {
	h := newHarness(t, justFailed())
	h.wantRun("disable_compute_service_task", hostStore, disableProgress(
		waitingDown,
		entry{"Nova reports compute service on host 'compute1' down after 61.0 s", 0.5},
	)...)
	// Reported down once its heartbeat is older than service_down_time (60 s),
	// seen at the next poll; the disable then answers at once. Masakari: 60 s
	// in the disable call, then 180 s of sleep.
	if h.elapsed() != 61*time.Second {
		t.Fatalf("took %s of virtual time, want 61s (no RPC timeout)", h.elapsed())
	}
	if svc := h.service("compute1"); svc.Status != "disabled" || svc.State != "down" || svc.ForcedDown {
		t.Fatalf("service %+v, want disabled, down, not forced", svc)
	}
	// One list to find the service, one per second of waiting and the
	// poll's early checks at 0.1, 0.2, 0.4 and 0.8 s.
	if n := h.ops("list_services"); n != 63+4 {
		t.Fatalf("%d service lists, want 67 (find, then polls at 0, 0.1, 0.2, 0.4, 0.8, 1..61 s)", n)
	}
}

func TestDisableComputeServiceForcesDownFirst(t *testing.T) {
	h := newHarness(t, justFailed())
	h.cfg.HostFailure.ForceDownService = true
	h.wantRun("disable_compute_service_task", hostStore, disableProgress(
		entry{"Forcing down compute service on host: 'compute1'", 0.1},
		entry{"Forced down compute service on host: 'compute1'", 0.5},
	)...)
	if h.elapsed() != 0 {
		t.Fatalf("took %s of virtual time, want 0", h.elapsed())
	}
	svc := h.service("compute1")
	if !svc.ForcedDown || svc.State != "down" || svc.Status != "disabled" {
		t.Fatalf("service %+v, want forced down and disabled", svc)
	}
	if h.ops("force_down") != 1 || h.ops("disable_service") != 1 {
		t.Fatalf("ops %v, want one force down then one disable", h.cloud.Counters().Ops)
	}
	// Evacuation is possible right away.
	if err := h.cloud.Evacuate(context.Background(), uid(1), ""); err != nil {
		t.Fatalf("evacuate after force down: %v", err)
	}
}

func TestDisableComputeServiceForcesDownOnlyWhatIsUp(t *testing.T) {
	h := newHarness(t, failedHostCloud())
	h.cfg.HostFailure.ForceDownService = true
	h.wantRun("disable_compute_service_task", hostStore, disableProgress()...)
	if h.ops("force_down") != 0 || h.service("compute1").ForcedDown {
		t.Fatal("a service Nova already reports down was forced down (operators would have to force it up later)")
	}
}

func TestDisableComputeServiceFallsBackToWaitingWhenForceDownIsRefused(t *testing.T) {
	fx := justFailed()
	fx.Faults = []simulated.Fault{{Op: "force_down", Error: "forbidden"}}
	h := newHarness(t, fx)
	h.cfg.HostFailure.ForceDownService = true
	got := h.succeed("disable_compute_service_task", hostStore)
	if len(got) != 6 || !strings.HasPrefix(got[2].Msg, "Could not force down compute service on host 'compute1': ") || got[2].P != 0.2 {
		t.Fatalf("progress %v", got)
	}
	got[2].Msg = "(refused)"
	wantProgress(t, got, disableProgress(
		entry{"Forcing down compute service on host: 'compute1'", 0.1},
		entry{"(refused)", 0.2},
		waitingDown,
		entry{"Nova reports compute service on host 'compute1' down after 61.0 s", 0.5},
	)...)
	if h.elapsed() != 61*time.Second {
		t.Fatalf("took %s, want 61s", h.elapsed())
	}
}

func TestDisableComputeServiceDisablesAnywayWhenTheWaitTimesOut(t *testing.T) {
	fx := justFailed()
	fx.ServiceDownTime = 600 // Nova keeps reporting it up past the wait
	h := newHarness(t, fx)
	h.wantRun("disable_compute_service_task", hostStore, disableProgress(
		waitingDown,
		entry{"Compute service on host 'compute1' still reported up after 180.0 s; disabling it anyway", 0.5},
	)...)
	// 180 s of waiting plus the RPC timeout the disable then pays: exactly
	// Masakari's 60 s + 180 s, never worse.
	if h.elapsed() != 240*time.Second {
		t.Fatalf("took %s, want 240s", h.elapsed())
	}
	if h.service("compute1").Status != "disabled" {
		t.Fatal("service not disabled after the wait timed out")
	}
}

func TestDisableComputeServiceLeavesADisabledServiceAlone(t *testing.T) {
	fx := failedHostCloud()
	fx.Hosts[0].Status, fx.Hosts[0].DisabledReason = "disabled", "maintenance"
	h := newHarness(t, fx)
	h.wantRun("disable_compute_service_task", hostStore, disableProgress(
		entry{"Compute service on host 'compute1' is already disabled", 0.9},
	)...)
	if h.ops("update_service") != 0 {
		t.Fatalf("%d service updates, want none", h.ops("update_service"))
	}
	if r := h.service("compute1").DisabledReason; r == nil || *r != "maintenance" {
		t.Fatalf("reason %v, want the operator's kept", r)
	}
}

func TestDisableComputeServiceErrors(t *testing.T) {
	t.Run("unknown host", func(t *testing.T) {
		h := newHarness(t, failedHostCloud())
		_, err, _ := h.run(context.Background(), "disable_compute_service_task", engine.Store{"host_name": "compute9"})
		if !errors.Is(err, compute.ErrNotFound) || !strings.Contains(err.Error(), `"compute9"`) {
			t.Fatalf("err = %v, want not found naming the host", err)
		}
		if engine.StatusOf(err) != engine.StatusError {
			t.Fatalf("status %s, want error", engine.StatusOf(err))
		}
	})
	t.Run("nova refuses the disable", func(t *testing.T) {
		fx := failedHostCloud()
		fx.Faults = []simulated.Fault{{Op: "disable_service", Error: "unavailable"}}
		h := newHarness(t, fx)
		_, err, got := h.run(context.Background(), "disable_compute_service_task", hostStore)
		var rerr *engine.RecoveryError
		if !errors.Is(err, compute.ErrUnavailable) || errors.As(err, &rerr) {
			t.Fatalf("err = %v, want Nova's error passed through", err)
		}
		if !strings.HasPrefix(err.Error(), `disable compute service on host "compute1": `) {
			t.Fatalf("err = %v", err)
		}
		wantProgress(t, got, entry{"Disabling compute service on host: 'compute1'", 0.0})
	})
	t.Run("list fails", func(t *testing.T) {
		fx := failedHostCloud()
		fx.Faults = []simulated.Fault{{Op: "list_services", Error: "forbidden"}}
		h := newHarness(t, fx)
		_, err, _ := h.run(context.Background(), "disable_compute_service_task", hostStore)
		if !errors.Is(err, compute.ErrForbidden) {
			t.Fatalf("err = %v, want forbidden", err)
		}
	})
	t.Run("task deadline during the wait", func(t *testing.T) {
		h := newHarness(t, justFailed())
		ctx := clock.WithDeadline(context.Background(), epoch.Add(30*time.Second))
		_, err, _ := h.run(ctx, "disable_compute_service_task", hostStore)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want the deadline", err)
		}
		if h.elapsed() != 30*time.Second || h.service("compute1").Status != "enabled" {
			t.Fatalf("after %s the service is %s; want stopped at 30s, not disabled", h.elapsed(), h.service("compute1").Status)
		}
	})
}
