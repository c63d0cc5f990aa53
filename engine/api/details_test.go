package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/db"
)

func rawRecord(t *testing.T, rec engine.TaskRecord) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every task that ran is shown, the failed one as FAILURE with its error as
// its last entry, even when it recorded no progress of its own.
func TestWorkflowDetailsShowTheFailedTask(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC)
	entry := engine.ProgressEntry{Timestamp: t0, Progress: 1, Message: "Disabling compute service on host: 'compute-1'"}
	runs := []db.FlowRun{{Flow: "auto", Records: []json.RawMessage{
		rawRecord(t, engine.TaskRecord{Name: "disable_compute_service_task", Atom: "DisableComputeServiceTask", State: engine.StateReverted, Progress: 1, Details: []engine.ProgressEntry{entry}}),
		rawRecord(t, engine.TaskRecord{Name: "prepare", State: engine.StateReverted, Progress: 1}),
		rawRecord(t, engine.TaskRecord{Name: "notify_webhook", State: engine.StateReverted, Progress: 0, Started: t0, Ended: t0.Add(2 * time.Second),
			Error: "scripts/notify_webhook.lua:30: webhook answered HTTP 500"}),
		rawRecord(t, engine.TaskRecord{Name: "undo", State: engine.StateRevertFailure, Progress: 1, Ended: t0, Error: "revert: nova down"}),
		rawRecord(t, engine.TaskRecord{Name: "no_op", State: engine.StateReverted, NoProgress: true}),
	}}}
	msg := "scripts/notify_webhook.lua:30: webhook answered HTTP 500"
	got, err := workflowDetails(db.Notification{Status: engine.StatusError, Message: &msg}, runs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("want 4 tasks (no_op records no progress), got %+v", got)
	}
	if got[0].Name != "DisableComputeServiceTask" || got[0].State != engine.StateReverted || len(got[0].ProgressDetails) != 1 {
		t.Fatalf("a reverted task keeps its state and entries: %+v", got[0])
	}
	if got[1].Name != "prepare" || got[1].State != engine.StateReverted || len(got[1].ProgressDetails) != 0 {
		t.Fatalf("a task without progress is shown: %+v", got[1])
	}
	f := got[2]
	if f.Name != "notify_webhook" || f.State != engine.StateFailure || len(f.ProgressDetails) != 1 ||
		f.ProgressDetails[0].Message != msg || f.ProgressDetails[0].Timestamp != "2026-01-01 00:01:02" || f.ProgressDetails[0].Progress != "0.0" {
		t.Fatalf("failed task: %+v", f)
	}
	if u := got[3]; u.State != engine.StateRevertFailure || len(u.ProgressDetails) != 1 || u.ProgressDetails[0].Message != "revert: nova down" {
		t.Fatalf("failed revert: %+v", u)
	}
}

// A notification that ran no task shows the manager's decision, at 1.1; 1.0
// shows no details at all, as before.
func TestDecisionIsADetailsEntry(t *testing.T) {
	f := newAPI(t, "token")
	ctx := context.Background()
	seg, err := f.store.CreateSegment(ctx, db.Segment{Name: "s1", ServiceType: "COMPUTE", RecoveryMethod: "auto", Enabled: false})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.CreateHost(ctx, seg.UUID, db.Host{Name: "compute-1", Type: "COMPUTE", ControlAttributes: "SSH"}); err != nil {
		t.Fatal(err)
	}
	n, err := f.store.CreateNotification(ctx, db.NewNotification{Type: "VM", Hostname: "compute-1", GeneratedTime: time.Now().UTC(),
		Payload: json.RawMessage(`{"event":"LIFECYCLE","instance_uuid":"i-1","vir_domain_event":"STOPPED_FAILED"}`)}, 0)
	if err != nil {
		t.Fatal(err)
	}
	show := func(version string) map[string]any {
		req, _ := http.NewRequest("GET", f.srv.URL+"/v1/notifications/"+n.UUID, nil)
		req.Header.Set("X-Auth-Token", adminToken)
		req.Header.Set("OpenStack-API-Version", version)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		var out struct {
			Notification map[string]any `json:"notification"`
		}
		if resp.StatusCode != 200 || json.Unmarshal(data, &out) != nil {
			t.Fatalf("GET: %d %s", resp.StatusCode, data)
		}
		return out.Notification
	}
	if d := show("instance-ha 1.1")["recovery_workflow_details"].([]any); len(d) != 0 {
		t.Fatalf("a new notification has no details: %v", d)
	}
	if _, ok, err := f.store.Claim(ctx, "engine-1", time.Now().Add(time.Minute)); !ok || err != nil {
		t.Fatalf("claim: %v %v", ok, err)
	}
	msg := "Recovery aboart: the segment HA is disabled."
	if ok, err := f.store.Finish(ctx, n.UUID, "engine-1", engine.StatusIgnored, &msg); !ok || err != nil {
		t.Fatalf("finish: %v %v", ok, err)
	}
	d := show("instance-ha 1.1")["recovery_workflow_details"].([]any)
	if len(d) != 1 {
		t.Fatalf("details: %v", d)
	}
	e := d[0].(map[string]any)
	entries := e["progress_details"].([]any)
	if e["name"] != decisionTask || e["state"] != engine.StateSuccess || len(entries) != 1 || entries[0].(map[string]any)["message"] != msg {
		t.Fatalf("decision entry: %v", e)
	}
	if _, ok := show("instance-ha 1.0")["recovery_workflow_details"]; ok {
		t.Fatal("1.0 shows no details")
	}
}
