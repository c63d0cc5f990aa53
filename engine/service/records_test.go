package service

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
)

// The records persist writes are json.Marshal's, whether the progress
// entries grew since the last write, the task started over, or another
// record came with as many entries.
func TestRecordsEncodeAsJSONMarshal(t *testing.T) {
	var r records
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	entry := func(i int, msg string) engine.ProgressEntry {
		return engine.ProgressEntry{Timestamp: t0.Add(time.Duration(i) * time.Millisecond), Progress: 0.5, Message: msg}
	}
	check := func(what string, e engine.Event) {
		t.Helper()
		got, err := r.encode(e)
		want, werr := json.Marshal(e.Record)
		if err != nil || werr != nil || string(got) != string(want) {
			t.Fatalf("%s:\n got %s (%v)\nwant %s", what, got, err, want)
		}
	}
	ev := func(task string, rec engine.TaskRecord) engine.Event {
		return engine.Event{Type: engine.TaskProgress, NotificationUUID: "n1", Flow: conf.FlowHostAuto, Task: task, Record: rec}
	}
	rec := engine.TaskRecord{Name: "evacuate_instances_task", Atom: "EvacuateInstancesTask", Phase: "post", State: engine.StateRunning,
		Error: `"progress_details":null`, EarlyEndMessage: "<&>"}
	check("no entries", ev(rec.Name, rec))
	rec.Details = []engine.ProgressEntry{}
	check("empty entries", ev(rec.Name, rec))
	for i := range 5 {
		rec.Details = append(rec.Details, entry(i, fmt.Sprintf("Evacuation of instance started: '%d' <&>", i)))
		rec.Progress = float64(i) / 10
		check(fmt.Sprintf("%d entries", i+1), ev(rec.Name, rec))
	}
	// The same record written again, and a snapshot of it without the
	// entries it has since.
	check("written again", ev(rec.Name, rec))
	short := rec
	short.Details = rec.Details[:2]
	check("fewer entries", ev(rec.Name, short))
	check("all entries again", ev(rec.Name, rec))
	// The task run again from scratch: as many entries, different ones.
	again := rec
	again.Details = nil
	for i := range 5 {
		again.Details = append(again.Details, entry(i+100, "again"))
	}
	check("another run", ev(rec.Name, again))
	// Other tasks and notifications are apart.
	other := ev("other_task", rec)
	other.Record.Details = rec.Details[:3]
	check("another task", other)
	other.NotificationUUID = "n2"
	check("another notification", other)
	r.forget("n1", string(conf.FlowHostAuto))
	if len(r.tasks) != 1 {
		t.Fatalf("%d tasks kept after the run ended, want only n2's", len(r.tasks))
	}
}
