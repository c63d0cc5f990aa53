package engine_test

import (
	"context"
	"errors"
	"testing"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
)

// Every task event names the kind of its task, so that listeners (the Lua
// error counter of the metrics) need no lookup table of their own.
func TestTaskEventsCarryTheTaskKind(t *testing.T) {
	f := newFixture()
	f.add(engine.Spec{Name: "a"}, &testTask{})
	f.add(engine.Spec{Name: "b", Kind: "lua", Source: "b.lua"}, &testTask{fail: func(engine.Store) error { return errors.New("boom") }})
	fl := f.build(t, flowSpec(conf.FlowInstance, "a", "b", ""))
	var events []engine.Event
	newRunner(&events).Run(context.Background(), engine.Request{NotificationUUID: "n1", Flow: fl,
		Store: engine.Store{"instance_uuid": "i", "notification_uuid": "n1"}})
	want := map[string]string{"a": "go", "b": "lua"}
	seen := map[engine.EventType]bool{}
	for _, e := range events {
		if e.Task == "" {
			if e.TaskKind != "" {
				t.Errorf("%s event without a task has kind %q", e.Type, e.TaskKind)
			}
			continue
		}
		seen[e.Type] = true
		if e.TaskKind != want[e.Task] {
			t.Errorf("%s event of %s: kind %q, want %q", e.Type, e.Task, e.TaskKind, want[e.Task])
		}
	}
	for _, typ := range []engine.EventType{engine.TaskStarted, engine.TaskProgress, engine.TaskSucceeded, engine.TaskFailed, engine.TaskReverted} {
		if !seen[typ] {
			t.Errorf("no %s event was checked", typ)
		}
	}
}
