package builtin_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
)

var processStore = engine.Store{"process_name": "nova-compute", "host_name": "compute1",
	"notification_uuid": "9b2e8ad0-2a4c-4a8e-b1f1-0c3e5d7f9a11"}

func processCloud(status string) simulated.Fixture {
	return simulated.Fixture{Hosts: []simulated.Host{{Name: "compute1", Status: status}, {Name: "compute2"}}}
}

func TestDisableComputeNode(t *testing.T) {
	h := newHarness(t, processCloud(""))
	h.wantRun("disable_compute_node_task", processStore,
		entry{"Disabling compute service on host: 'compute1'", 0.0},
		entry{"Disabled compute service on host: 'compute1'", 1.0})
	svc := h.service("compute1")
	if svc.Status != "disabled" || svc.DisabledReason == nil || *svc.DisabledReason != "Masakari detected process failed." {
		t.Fatalf("service %+v, want disabled with [process_failure] service_disable_reason", svc)
	}
}

func TestDisableComputeNodeAlreadyDisabledContinues(t *testing.T) {
	h := newHarness(t, processCloud("disabled"))
	_, err, got := h.run(context.Background(), "disable_compute_node_task", processStore)
	if err != nil {
		t.Fatalf("err = %v, want none: Masakari continues", err)
	}
	wantProgress(t, got,
		entry{"Disabling compute service on host: 'compute1'", 0.0},
		entry{"Skipping recovery for process nova-compute as it is already disabled", 1.0})
	if h.ops("update_service") != 0 {
		t.Fatal("updated a disabled service")
	}
}

func TestDisableComputeNodeErrors(t *testing.T) {
	h := newHarness(t, processCloud(""))
	in := processStore.Clone()
	in["process_name"] = "libvirtd"
	// Masakari's services.list(...)[0] fails: no such service.
	if _, err, _ := h.run(context.Background(), "disable_compute_node_task", in); !errors.Is(err, compute.ErrNotFound) {
		t.Fatalf("err = %v, want not found", err)
	}
	fx := processCloud("")
	fx.Faults = []simulated.Fault{{Op: "disable_service", Error: "forbidden"}}
	h = newHarness(t, fx)
	if _, err, _ := h.run(context.Background(), "disable_compute_node_task", processStore); !errors.Is(err, compute.ErrForbidden) {
		t.Fatalf("err = %v, want forbidden", err)
	}
}

func TestConfirmComputeNodeDisabled(t *testing.T) {
	h := newHarness(t, processCloud("disabled"))
	h.wantRun("confirm_compute_node_disabled_task", processStore,
		entry{"Confirming compute service is disabled on host: 'compute1'", 0.0},
		entry{"Confirmed compute service is disabled on host: 'compute1'", 1.0})
}

func TestConfirmComputeNodeDisabledTimesOut(t *testing.T) {
	h := newHarness(t, processCloud(""))
	_, err, got := h.run(context.Background(), "confirm_compute_node_disabled_task", processStore)
	msg := "Failed to disable service nova-compute"
	wantFailure(t, err, msg)
	wantProgress(t, got,
		entry{"Confirming compute service is disabled on host: 'compute1'", 0.0},
		entry{msg, 1.0})
	if h.elapsed() != 180*time.Second {
		t.Fatalf("gave up after %s, want wait_period_after_service_update", h.elapsed())
	}
}

func TestNoop(t *testing.T) {
	h := newHarness(t, processCloud(""))
	out, err, got := h.run(context.Background(), "no_op", engine.Store{})
	if err != nil || len(out) != 0 || len(got) != 0 {
		t.Fatalf("out %v, err %v, progress %v; want nothing", out, err, got)
	}
	if h.ops("list_services")+h.ops("list_servers") != 0 {
		t.Fatal("no_op called Nova")
	}
}
