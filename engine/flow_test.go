package engine_test

import (
	"strings"
	"testing"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
)

func planRegistry() *engine.Registry {
	f := newFixture()
	f.add(engine.Spec{Name: "disable_compute_service_task", Requires: []string{"host_name"}}, &testTask{})
	f.add(engine.Spec{Name: "prepare_HA_enabled_instances_task", Requires: []string{"host_name"}, Provides: []string{"instance_list"}}, &testTask{})
	f.add(engine.Spec{Name: "evacuate_instances_task", Requires: []string{"host_name", "instance_list"}, Optional: []string{"reserved_host"}}, &testTask{})
	f.add(engine.Spec{Name: "stop_instance_task", Requires: []string{"instance_uuid"}}, &testTask{})
	f.add(engine.Spec{Name: "no_op"}, &testTask{})
	return f.reg
}

func TestPlanErrors(t *testing.T) {
	reg := planRegistry()
	for _, tc := range []struct {
		name string
		spec conf.FlowSpec
		want []string
	}{
		{"unknown task with suggestion", flowSpec(conf.FlowHostAuto, "disable_compute_servce_task", "", ""),
			[]string{`test.conf:3: [taskflow_driver_recovery_flows] host_auto_failure_recovery_tasks: pre: unknown task "disable_compute_servce_task" (did you mean "disable_compute_service_task"?)`}},
		{"task in two phases", flowSpec(conf.FlowHostAuto, "no_op", "no_op", ""),
			[]string{`main: task "no_op" is already in pre; a task may appear in one phase only`}},
		{"evacuate before prepare", flowSpec(conf.FlowHostAuto, "evacuate_instances_task", "prepare_HA_enabled_instances_task", ""),
			[]string{`pre: task "evacuate_instances_task" requires "instance_list", which is neither in the host_auto flow's initial store (host_name, notification_uuid) nor provided by an earlier task`}},
		{"host task in the instance flow", flowSpec(conf.FlowInstance, "disable_compute_service_task", "", ""),
			[]string{`instance_failure_recovery_tasks: pre: task "disable_compute_service_task" requires "host_name"`}},
		{"every problem at once", flowSpec(conf.FlowInstance, "nope1", "nope2 stop_instance_task", "evacuate_instances_task"),
			[]string{`unknown task "nope1"`, `unknown task "nope2"`, `post: task "evacuate_instances_task" requires "host_name"`, `requires "instance_list"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := engine.Plan(reg, tc.spec)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%s\ndoes not contain\n%s", err, w)
				}
			}
		})
	}
}

func TestPlanDefaultFlowsAndSources(t *testing.T) {
	reg := planRegistry()
	f, err := engine.Plan(reg, flowSpec(conf.FlowHostRH, "disable_compute_service_task", "prepare_HA_enabled_instances_task evacuate_instances_task", ""))
	if err != nil {
		t.Fatal(err)
	}
	evac := f.Phases[conf.Main][1]
	var got []string
	for _, s := range f.Sources(evac) {
		got = append(got, s.Key+"<-"+s.From)
	}
	want := "host_name<-initial store instance_list<-prepare_HA_enabled_instances_task reserved_host<-retry (reserved host)"
	if strings.Join(got, " ") != want {
		t.Fatalf("sources: %s", strings.Join(got, " "))
	}
}

func TestPlanDuplicateInOnePhaseRunsOnce(t *testing.T) {
	f, err := engine.Plan(planRegistry(), flowSpec(conf.FlowHostAuto, "no_op no_op", "", ""))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Phases[conf.Pre]) != 1 || len(f.Warnings) != 1 || !strings.Contains(f.Warnings[0], "listed twice") {
		t.Fatalf("phase %v warnings %v", f.Phases[conf.Pre], f.Warnings)
	}
}

func TestRegistry(t *testing.T) {
	reg := planRegistry()
	err := reg.Add(engine.Spec{Name: "no_op", Kind: "lua", Source: "scripts/no_op.lua", New: func(conf.Section) (engine.Task, error) { return nil, nil }})
	if err == nil || err.Error() != `task "no_op" from Lua script scripts/no_op.lua clashes with the built-in task no_op` {
		t.Fatalf("clash: %v", err)
	}
	if names := reg.Names(); names[0] != "disable_compute_service_task" || len(names) != 5 {
		t.Fatalf("names %v", names)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("duplicate Go registration must panic")
		}
	}()
	reg.Register(engine.Spec{Name: "no_op", New: func(conf.Section) (engine.Task, error) { return nil, nil }})
}
