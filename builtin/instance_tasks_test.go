package builtin_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
)

var vmID = uid(1)

func vmStore() engine.Store {
	return engine.Store{"instance_uuid": vmID, "notification_uuid": "9b2e8ad0-2a4c-4a8e-b1f1-0c3e5d7f9a11"}
}

// vmCloud is one server on a healthy compute1.
func vmCloud(s simulated.Server) simulated.Fixture {
	return simulated.Fixture{
		Hosts:   []simulated.Host{{Name: "compute1"}, {Name: "compute2"}},
		Servers: []simulated.Server{s},
		Latency: simulated.Latency{Stop: 4000, Start: 7000},
	}
}

func vm(state string, ha bool) simulated.Server {
	s := simulated.Server{ID: vmID, Name: "vm1", Host: "compute1", VMState: state}
	if ha {
		s.Metadata = map[string]string{"HA_Enabled": "True"}
	}
	return s
}

func TestStopInstance(t *testing.T) {
	h := newHarness(t, vmCloud(vm("active", true)))
	h.wantRun("stop_instance_task", vmStore(),
		entry{"Stopping instance: " + vmID, 0.0},
		entry{"Stopped instance: '" + vmID + "'", 1.0})
	if h.server(vmID).VMState != "stopped" {
		t.Fatalf("vm_state %s", h.server(vmID).VMState)
	}
	// Stop takes 4 s; polled every second.
	if h.elapsed() != 4*time.Second {
		t.Fatalf("took %s, want 4s", h.elapsed())
	}
}

func TestStopInstanceSkipsServersThatAreNotHAEnabled(t *testing.T) {
	for _, md := range []map[string]string{nil, {"HA_Enabled": "False"}, {"HA_Enabled": "maybe"}} {
		s := vm("active", false)
		s.Metadata = md
		h := newHarness(t, vmCloud(s))
		_, err, got := h.run(context.Background(), "stop_instance_task", vmStore())
		msg := "Skipping recovery for instance: " + vmID + " as it is not Ha_Enabled"
		if !engine.IsSkip(err) || err.Error() != msg || engine.StatusOf(err) != engine.StatusFinished {
			t.Fatalf("metadata %v: err = %v, want a skip", md, err)
		}
		wantProgress(t, got, entry{msg, 1.0})
		if h.ops("stop") != 0 {
			t.Fatal("stopped a server that is not HA-enabled")
		}
	}
}

func TestStopInstanceProcessAllInstances(t *testing.T) {
	h := newHarness(t, vmCloud(vm("active", false)))
	h.cfg.InstanceFailure.ProcessAllInstances = true
	h.succeed("stop_instance_task", vmStore())
	if h.server(vmID).VMState != "stopped" {
		t.Fatal("not stopped with process_all_instances")
	}
}

func TestStopInstanceCustomMetadataKey(t *testing.T) {
	s := vm("active", false)
	s.Metadata = map[string]string{"recover-me": "y"}
	h := newHarness(t, vmCloud(s))
	h.cfg.InstanceFailure.HAEnabledInstanceMetadataKey = "recover-me"
	h.succeed("stop_instance_task", vmStore())
}

func TestStopInstanceIgnoresPausedAndRescued(t *testing.T) {
	for _, state := range []string{"paused", "rescued"} {
		h := newHarness(t, vmCloud(vm(state, true)))
		_, err, got := h.run(context.Background(), "stop_instance_task", vmStore())
		msg := fmt.Sprintf("Recovery of instance '%s' is ignored as it is in '%s' state.", vmID, state)
		var ign *engine.IgnoreError
		if !errors.As(err, &ign) || err.Error() != msg || engine.StatusOf(err) != engine.StatusIgnored {
			t.Fatalf("%s: err = %v, want an ignore", state, err)
		}
		wantProgress(t, got, entry{msg, 1.0})
	}
}

func TestStopInstanceAlreadyStopped(t *testing.T) {
	h := newHarness(t, vmCloud(vm("stopped", true)))
	h.wantRun("stop_instance_task", vmStore(), entry{"Stopped instance: '" + vmID + "'", 1.0})
	if h.ops("stop") != 0 {
		t.Fatal("stop called on a stopped server")
	}
}

func TestStopInstanceResizedIsResetToActiveFirst(t *testing.T) {
	h := newHarness(t, vmCloud(vm("resized", true)))
	h.wantRun("stop_instance_task", vmStore(),
		entry{"Stopping instance: " + vmID, 0.0},
		entry{"Stopped instance: '" + vmID + "'", 1.0})
	if h.serverOps(vmID, "reset_state") != 1 || h.server(vmID).VMState != "stopped" {
		t.Fatalf("calls %v, state %s", h.cloud.Counters().Servers[vmID], h.server(vmID).VMState)
	}
}

// stopRace is a cloud where someone else stops the server just as the task
// asks: Nova answers 409.
type stopRace struct{ compute.Cloud }

func (c stopRace) Stop(ctx context.Context, id string) error {
	if err := c.Cloud.Stop(ctx, id); err != nil {
		return err
	}
	return fmt.Errorf("Cannot 'stop' instance %s while it is in task_state powering-off: %w", id, compute.ErrConflict)
}

func TestStopInstanceConflict(t *testing.T) {
	t.Run("stopped by someone else", func(t *testing.T) {
		fx := vmCloud(vm("active", true))
		fx.Latency.Stop = 0
		h := newHarness(t, fx)
		h.nova = stopRace{h.cloud}
		h.wantRun("stop_instance_task", vmStore(),
			entry{"Stopping instance: " + vmID, 0.0},
			entry{"Conflict when stopping instance: " + vmID, 0.0},
			entry{"Stopped instance: '" + vmID + "'", 1.0})
	})
	t.Run("still running", func(t *testing.T) {
		fx := vmCloud(vm("active", true))
		fx.Faults = []simulated.Fault{{Op: "stop", Error: "conflict"}}
		h := newHarness(t, fx)
		_, err, got := h.run(context.Background(), "stop_instance_task", vmStore())
		var rerr *engine.RecoveryError
		if !errors.Is(err, compute.ErrConflict) || errors.As(err, &rerr) || engine.StatusOf(err) != engine.StatusError {
			t.Fatalf("err = %v, want Nova's conflict", err)
		}
		wantProgress(t, got,
			entry{"Stopping instance: " + vmID, 0.0},
			entry{"Conflict when stopping instance: " + vmID, 0.0})
	})
}

func TestStopInstanceTimesOut(t *testing.T) {
	fx := vmCloud(vm("active", true))
	fx.Faults = []simulated.Fault{{Op: "stop", Error: "never"}}
	h := newHarness(t, fx)
	_, err, got := h.run(context.Background(), "stop_instance_task", vmStore())
	msg := "Failed to stop instance " + vmID
	wantFailure(t, err, msg)
	wantProgress(t, got, entry{"Stopping instance: " + vmID, 0.0}, entry{msg, 1.0})
	if h.elapsed() != 180*time.Second {
		t.Fatalf("gave up after %s, want wait_period_after_power_off", h.elapsed())
	}
}

func TestStopInstanceUnknownServer(t *testing.T) {
	h := newHarness(t, vmCloud(vm("active", true)))
	_, err, got := h.run(context.Background(), "stop_instance_task", engine.Store{"instance_uuid": uid(42)})
	if !errors.Is(err, compute.ErrNotFound) || len(got) != 0 {
		t.Fatalf("err = %v, progress %v", err, got)
	}
}

func TestStartInstance(t *testing.T) {
	h := newHarness(t, vmCloud(vm("stopped", true)))
	h.wantRun("start_instance_task", vmStore(),
		entry{"Starting instance: '" + vmID + "'", 0.0},
		entry{"Instance started: '" + vmID + "'", 1.0})
	// It does not wait: confirm_instance_active_task does.
	if h.elapsed() != 0 || h.serverOps(vmID, "start") != 1 {
		t.Fatalf("elapsed %s, calls %v", h.elapsed(), h.cloud.Counters().Servers[vmID])
	}
}

func TestStartInstanceInvalidState(t *testing.T) {
	h := newHarness(t, vmCloud(vm("active", true)))
	_, err, got := h.run(context.Background(), "start_instance_task", vmStore())
	msg := "Invalid state for Instance " + vmID + ". Expected state: 'STOPPED', Actual state: 'active'"
	wantFailure(t, err, msg)
	wantProgress(t, got, entry{"Starting instance: '" + vmID + "'", 0.0}, entry{msg, 1.0})
}

func TestConfirmInstanceActive(t *testing.T) {
	h := newHarness(t, vmCloud(vm("stopped", true)))
	if err := h.cloud.Start(context.Background(), vmID); err != nil {
		t.Fatal(err)
	}
	h.wantRun("confirm_instance_active_task", vmStore(),
		entry{"Confirming instance '" + vmID + "' vm_state is ACTIVE", 0.0},
		entry{"Confirmed instance '" + vmID + "' vm_state is ACTIVE", 1.0})
	if h.elapsed() != 7*time.Second {
		t.Fatalf("confirmed after %s, want the 7s start", h.elapsed())
	}
}

func TestConfirmInstanceActiveTimesOut(t *testing.T) {
	h := newHarness(t, vmCloud(vm("stopped", true)))
	_, err, got := h.run(context.Background(), "confirm_instance_active_task", vmStore())
	msg := "Failed to start instance " + vmID
	wantFailure(t, err, msg)
	wantProgress(t, got, entry{"Confirming instance '" + vmID + "' vm_state is ACTIVE", 0.0}, entry{msg, 1.0})
	if h.elapsed() != 60*time.Second {
		t.Fatalf("gave up after %s, want wait_period_after_power_on", h.elapsed())
	}
}
