package engine_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
)

// Every key of every initial store is a notification fact, and so is the
// reserved host the recovery binds.
func TestNotificationKeysCoverEveryInitialStore(t *testing.T) {
	for _, k := range conf.FlowKinds {
		for _, key := range engine.InitialKeys(k) {
			if !slices.Contains(engine.NotificationKeys(), key) {
				t.Errorf("%s: initial key %q is not a notification fact", k, key)
			}
		}
	}
	if !slices.Contains(engine.NotificationKeys(), engine.KeyReservedHost) {
		t.Error("reserved_host is not a notification fact")
	}
}

// A task that declares one of the notification's own facts in provides (a
// pre task redirecting the recovery to another host) is refused when the
// flow is planned, at its place, naming the task and the key; a task that
// provides a key an earlier task provided (instance_list, narrowed) is not.
func TestPlanRefusesATaskReplacingANotificationFact(t *testing.T) {
	for _, key := range engine.NotificationKeys() {
		t.Run(key, func(t *testing.T) {
			reg := planRegistry()
			reg.Register(engine.Spec{Name: "redirect", Kind: "lua", Source: "scripts/redirect.lua", Provides: []string{key},
				New: func(conf.Section) (engine.Task, error) { return &testTask{}, nil }})
			_, err := engine.Plan(reg, flowSpec(conf.FlowHostAuto, "redirect disable_compute_service_task", "prepare_HA_enabled_instances_task", "evacuate_instances_task"))
			want := `test.conf:3: [taskflow_driver_recovery_flows] host_auto_failure_recovery_tasks: pre: task "redirect" (scripts/redirect.lua) provides "` + key + `", one of the notification's own facts`
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("err\n%v\nwant\n%s", err, want)
			}
		})
	}
	reg := planRegistry()
	reg.Register(engine.Spec{Name: "narrow", Requires: []string{"instance_list"}, Provides: []string{"instance_list"},
		New: func(conf.Section) (engine.Task, error) { return &testTask{}, nil }})
	if _, err := engine.Plan(reg, flowSpec(conf.FlowHostAuto, "disable_compute_service_task", "prepare_HA_enabled_instances_task narrow", "evacuate_instances_task")); err != nil {
		t.Fatalf("a task narrowing instance_list: %v", err)
	}
}

// The runner refuses a task that returns a notification fact, whether it
// declares it (a flow not built through Plan), ends the flow early with it,
// or does not declare it: the store keeps the notification's host, and no
// later task runs on the other one.
func TestRunnerRefusesATaskReplacingANotificationFact(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec engine.Spec
		task engine.Task
	}{
		{"declared", engine.Spec{Name: "redirect", Provides: []string{"host_name"}}, &testTask{out: engine.Store{"host_name": "healthy"}}},
		{"undeclared", engine.Spec{Name: "redirect"}, &testTask{out: engine.Store{"host_name": "healthy"}}},
		{"early end", engine.Spec{Name: "redirect"}, skipWith{engine.Store{"host_name": "healthy"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := &journal{}
			if tt, ok := tc.task.(*testTask); ok {
				tt.name, tt.j = tc.spec.Name, j
			}
			next := &testTask{name: "evacuate", j: j, reads: []string{"host_name"}}
			fl := &engine.Flow{Kind: conf.FlowHostAuto}
			fl.Phases[conf.Pre] = []engine.FlowTask{{Spec: tc.spec, Phase: conf.Pre, Task: tc.task}}
			fl.Phases[conf.Main] = []engine.FlowTask{{Spec: engine.Spec{Name: "evacuate", Requires: []string{"host_name"}}, Phase: conf.Main, Task: next}}
			res := newRunner(nil).Run(context.Background(), engine.Request{Flow: fl, Store: engine.Store{"host_name": "failed", "notification_uuid": "n"}})
			want := `task "redirect" provided "host_name", one of the notification's own facts, which no task may replace`
			if res.Status != engine.StatusError || res.Err == nil || res.Err.Error() != want {
				t.Fatalf("status %s err %v, want %s", res.Status, res.Err, want)
			}
			if res.Store["host_name"] != "failed" || strings.Contains(j.String(), "run:evacuate") {
				t.Fatalf("store %v, ran %s", res.Store, j)
			}
		})
	}
}

// skipWith ends the flow early (a skip) and returns out.
type skipWith struct{ out engine.Store }

func (s skipWith) Execute(context.Context, *engine.Env, engine.Store) (engine.Store, error) {
	return s.out.Clone(), &engine.SkipError{Msg: "done"}
}

func (skipWith) Revert(context.Context, *engine.Env, engine.Store, error) error { return nil }
