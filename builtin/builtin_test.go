package builtin_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kaifuku-ha/kaifuku/builtin"
	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
)

func TestRegisterMasakarisNineTasks(t *testing.T) {
	reg := engine.NewRegistry()
	builtin.Register(reg, nil, nil)
	type row struct {
		Atom                         string
		Requires, Optional, Provides []string
		NoProgress                   bool
	}
	want := map[string]row{
		"disable_compute_service_task":       {Atom: "DisableComputeServiceTask", Requires: []string{"host_name"}},
		"prepare_HA_enabled_instances_task":  {Atom: "PrepareHAEnabledInstancesTask", Requires: []string{"host_name"}, Provides: []string{"instance_list"}},
		"evacuate_instances_task":            {Atom: "EvacuateInstancesTask", Requires: []string{"host_name", "instance_list"}, Optional: []string{"reserved_host"}},
		"stop_instance_task":                 {Atom: "StopInstanceTask", Requires: []string{"instance_uuid"}},
		"start_instance_task":                {Atom: "StartInstanceTask", Requires: []string{"instance_uuid"}},
		"confirm_instance_active_task":       {Atom: "ConfirmInstanceActiveTask", Requires: []string{"instance_uuid"}},
		"disable_compute_node_task":          {Atom: "DisableComputeNodeTask", Requires: []string{"process_name", "host_name"}},
		"confirm_compute_node_disabled_task": {Atom: "ConfirmComputeNodeDisabledTask", Requires: []string{"process_name", "host_name"}},
		"no_op":                              {Atom: "masakari.engine.drivers.taskflow.no_op.Noop", NoProgress: true},
		"fence_host_task":                    {Atom: "FenceHostTask", Requires: []string{"host_name"}},
	}
	got := map[string]row{}
	for _, name := range reg.Names() {
		s, err := reg.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		if s.Kind != "go" || s.New == nil {
			t.Errorf("%s: kind %q", name, s.Kind)
		}
		got[name] = row{s.AtomName(), s.Requires, s.Optional, s.Provides, s.NoProgress}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("registered tasks (-want +got):\n%s", d)
	}
}

func TestBuiltinTasksRefuseSettings(t *testing.T) {
	reg := engine.NewRegistry()
	builtin.Register(reg, nil, nil)
	s, _ := reg.Lookup("evacuate_instances_task")
	_, err := s.New(conf.Section{Name: "evacuate_instances_task",
		Values: map[string]string{"threads": "5", "add_reserved_host_to_aggregate": "true"},
		KeyPos: map[string]conf.Pos{"threads": {File: "kaifuku.conf", Line: 12}}})
	want := "unknown setting add_reserved_host_to_aggregate, threads (kaifuku.conf:12): built-in tasks take their options from [DEFAULT], [host_failure], [instance_failure] and [process_failure]"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	if _, err := s.New(conf.Section{Name: "evacuate_instances_task"}); err != nil {
		t.Fatalf("an empty section is fine: %v", err)
	}
}

func TestTasksWithoutACloudFailWhenRun(t *testing.T) {
	reg := engine.NewRegistry()
	builtin.Register(reg, nil, nil) // kaifuku check builds flows without a cloud
	for _, name := range reg.Names() {
		if name == "no_op" {
			continue
		}
		s, _ := reg.Lookup(name)
		task, err := s.New(conf.Section{})
		if err != nil {
			t.Fatal(err)
		}
		in := engine.Store{"host_name": "h", "instance_uuid": uid(1), "process_name": "nova-compute", "instance_list": []any{}}
		_, err = task.Execute(context.Background(), engine.NewEnv("", name, nil, nil, nil), in)
		if err == nil || !strings.Contains(err.Error(), "no compute cloud configured") {
			t.Errorf("%s: err = %v", name, err)
		}
		if err := task.Revert(context.Background(), nil, in, err); err != nil {
			t.Errorf("%s: revert: %v", name, err)
		}
	}
}
