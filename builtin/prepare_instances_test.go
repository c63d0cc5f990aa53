package builtin_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
)

// mixedHost has, on compute1 in this order: 1 HA (True), 2 no metadata,
// 3 HA ("yes"), 4 HA_Enabled False, 5 HA in error, 6 non-HA in error; and
// 7 HA on compute2.
func mixedHost() simulated.Fixture {
	md := func(v string) map[string]string { return map[string]string{"HA_Enabled": v} }
	return failedHostCloud(
		simulated.Server{ID: uid(1), Name: "vm1", Host: "compute1", Metadata: md("True")},
		simulated.Server{ID: uid(2), Name: "vm2", Host: "compute1"},
		simulated.Server{ID: uid(3), Name: "vm3", Host: "compute1", Metadata: md("yes")},
		simulated.Server{ID: uid(4), Name: "vm4", Host: "compute1", Metadata: md("False")},
		simulated.Server{ID: uid(5), Name: "vm5", Host: "compute1", VMState: "error", Metadata: md("1")},
		simulated.Server{ID: uid(6), Name: "vm6", Host: "compute1", VMState: "error"},
		simulated.Server{ID: uid(7), Name: "vm7", Host: "compute2", Metadata: md("True")},
	)
}

func instanceList(t *testing.T, out engine.Store) []string {
	t.Helper()
	if len(out) != 1 {
		t.Fatalf("provided %v, want only instance_list", out.Keys())
	}
	ids, err := out.Strings("instance_list")
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestPrepareEvacuatesHAFirstThenTheOthers(t *testing.T) {
	h := newHarness(t, mixedHost())
	out, err, got := h.run(context.Background(), "prepare_HA_enabled_instances_task", hostStore)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{uid(1), uid(3), uid(5), uid(2), uid(4), uid(6)}
	if d := cmp.Diff(want, instanceList(t, out)); d != "" {
		t.Fatalf("instance_list (-want +got):\n%s", d)
	}
	wantProgress(t, got,
		entry{"Preparing instances for evacuation", 0.0},
		entry{"Total instances running on failed host 'compute1' is 6", 0.3},
		entry{"Total HA Enabled instances count: '3'", 0.6},
		entry{"Total Non-HA Enabled instances count: '3'", 0.7},
		entry{"All instances (HA Enabled/Non-HA Enabled) should be considered for evacuation. Total count is: '6'", 0.8},
		entry{"Instances to be evacuated are: '" + uid(1) + "," + uid(3) + "," + uid(5) + "," + uid(2) + "," + uid(4) + "," + uid(6) + "'", 1.0})
	// The store keeps JSON shapes.
	if _, ok := out["instance_list"].([]any); !ok {
		t.Fatalf("instance_list is %T, want []any", out["instance_list"])
	}
}

func TestPrepareOnlyHAWithoutEvacuateAllInstances(t *testing.T) {
	h := newHarness(t, mixedHost())
	h.cfg.HostFailure.EvacuateAllInstances = false
	out, err, got := h.run(context.Background(), "prepare_HA_enabled_instances_task", hostStore)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{uid(1), uid(3), uid(5)}, instanceList(t, out)); d != "" {
		t.Fatalf("instance_list (-want +got):\n%s", d)
	}
	wantProgress(t, got,
		entry{"Preparing instances for evacuation", 0.0},
		entry{"Total instances running on failed host 'compute1' is 6", 0.3},
		entry{"Total HA Enabled instances count: '3'", 0.6},
		entry{"Instances to be evacuated are: '" + uid(1) + "," + uid(3) + "," + uid(5) + "'", 1.0})
}

func TestPrepareIgnoresInstancesInErrorState(t *testing.T) {
	h := newHarness(t, mixedHost())
	h.cfg.HostFailure.IgnoreInstancesInErrorState = true
	out, err, got := h.run(context.Background(), "prepare_HA_enabled_instances_task", hostStore)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{uid(1), uid(3), uid(2), uid(4)}, instanceList(t, out)); d != "" {
		t.Fatalf("instance_list (-want +got):\n%s", d)
	}
	// Only the HA-enabled server in error is reported; the other is dropped
	// silently.
	wantProgress(t, got,
		entry{"Preparing instances for evacuation", 0.0},
		entry{"Total instances running on failed host 'compute1' is 6", 0.3},
		entry{"Ignoring recovery of HA_Enabled instance '" + uid(5) + "' as it is in 'error' state.", 0.4},
		entry{"Total HA Enabled instances count: '2'", 0.6},
		entry{"Total Non-HA Enabled instances count: '2'", 0.7},
		entry{"All instances (HA Enabled/Non-HA Enabled) should be considered for evacuation. Total count is: '4'", 0.8},
		entry{"Instances to be evacuated are: '" + uid(1) + "," + uid(3) + "," + uid(2) + "," + uid(4) + "'", 1.0})
}

func TestPrepareReadsTheConfiguredMetadataKey(t *testing.T) {
	fx := failedHostCloud(
		simulated.Server{ID: uid(1), Name: "vm1", Host: "compute1", Metadata: map[string]string{"HA_Enabled": "True"}},
		simulated.Server{ID: uid(2), Name: "vm2", Host: "compute1", Metadata: map[string]string{"ha": " ON "}},
	)
	h := newHarness(t, fx)
	h.cfg.HostFailure.HAEnabledInstanceMetadataKey = "ha"
	h.cfg.HostFailure.EvacuateAllInstances = false
	out, err, _ := h.run(context.Background(), "prepare_HA_enabled_instances_task", hostStore)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{uid(2)}, instanceList(t, out)); d != "" {
		t.Fatalf("instance_list (-want +got):\n%s", d)
	}
}

func TestPrepareSkipsAHostWithNothingToEvacuate(t *testing.T) {
	for name, fx := range map[string]simulated.Fixture{
		"no servers": failedHostCloud(simulated.Server{ID: uid(7), Name: "vm7", Host: "compute2"}),
		"no HA servers": failedHostCloud(simulated.Server{ID: uid(2), Name: "vm2", Host: "compute1"},
			simulated.Server{ID: uid(3), Name: "vm3", Host: "compute1"}),
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, fx)
			h.cfg.HostFailure.EvacuateAllInstances = false
			out, err, got := h.run(context.Background(), "prepare_HA_enabled_instances_task", hostStore)
			msg := "Skipped host 'compute1' recovery as no instances needs to be evacuated"
			if !engine.IsSkip(err) || err.Error() != msg || out != nil {
				t.Fatalf("out %v, err %v; want a skip %q", out, err, msg)
			}
			if engine.StatusOf(err) != engine.StatusFinished {
				t.Fatalf("status %s, want finished", engine.StatusOf(err))
			}
			n := len(fx.Servers)
			if name == "no servers" {
				n = 0
			}
			wantProgress(t, got,
				entry{"Preparing instances for evacuation", 0.0},
				entry{"Total instances running on failed host 'compute1' is " + string(rune('0'+n)), 0.3},
				entry{"Total HA Enabled instances count: '0'", 0.6},
				entry{msg, 1.0})
		})
	}
}

func TestPrepareNovaErrorPassesThrough(t *testing.T) {
	fx := mixedHost()
	fx.Faults = []simulated.Fault{{Op: "list_servers", Error: "unavailable"}}
	h := newHarness(t, fx)
	_, err, got := h.run(context.Background(), "prepare_HA_enabled_instances_task", hostStore)
	if !errors.Is(err, compute.ErrUnavailable) || engine.StatusOf(err) != engine.StatusError {
		t.Fatalf("err = %v", err)
	}
	wantProgress(t, got, entry{"Preparing instances for evacuation", 0.0})
}
