package daemon_test

import (
	"testing"
	"time"
)

// A host recovery run by the daemon leaves one vmove per evacuated server,
// listed and daemontest.Shown at microversion 1.3.
func TestHostRecoveryVMoves(t *testing.T) {
	r := newEnv(t, 20, "").Start(t)
	r.Segment("inproc", true, "compute1", "compute2", "compute3")
	before := map[string]bool{}
	for _, s := range r.Cloud().Servers {
		if s.Host == "compute1" {
			before[s.ID] = true
		}
	}
	if len(before) == 0 {
		t.Fatal("the fixture has no server on compute1")
	}
	id := r.Notify("COMPUTE_HOST", "compute1", map[string]string{"event": "STOPPED", "host_status": "NORMAL"})
	if n := r.WaitFinal(id, time.Minute); n.Notification.Status != "finished" {
		t.Fatalf("host notification: %s %+v", n.Notification.Status, n.Notification.Details)
	}
	type vmove struct {
		UUID             string  `json:"uuid"`
		NotificationUUID string  `json:"notification_uuid"`
		InstanceUUID     string  `json:"instance_uuid"`
		InstanceName     string  `json:"instance_name"`
		SourceHost       string  `json:"source_host"`
		DestHost         *string `json:"dest_host"`
		StartTime        *string `json:"start_time"`
		EndTime          *string `json:"end_time"`
		Type             string  `json:"type"`
		Status           string  `json:"status"`
		Message          *string `json:"message"`
	}
	var list struct {
		VMoves []vmove `json:"vmoves"`
	}
	r.At("1.3").MustCall("GET", "/v1/notifications/"+id+"/vmoves", nil, 200, &list)
	if len(list.VMoves) != len(before) {
		t.Fatalf("%d vmoves for %d servers of compute1: %+v", len(list.VMoves), len(before), list.VMoves)
	}
	hosts := map[string]string{}
	for _, s := range r.Cloud().Servers {
		hosts[s.ID] = s.Host
	}
	for _, v := range list.VMoves {
		if !before[v.InstanceUUID] || v.NotificationUUID != id || v.SourceHost != "compute1" || v.Type != "evacuation" ||
			v.Status != "succeeded" || v.DestHost == nil || *v.DestHost != hosts[v.InstanceUUID] || *v.DestHost == "compute1" ||
			v.InstanceName == "" || v.StartTime == nil || v.EndTime == nil || *v.EndTime < *v.StartTime || v.Message != nil {
			t.Errorf("vmove %+v (server now on %s)", v, hosts[v.InstanceUUID])
		}
	}
	var one struct {
		VMove vmove `json:"vmove"`
	}
	r.At("1.3").MustCall("GET", "/v1/notifications/"+id+"/vmoves/"+list.VMoves[0].UUID, nil, 200, &one)
	if one.VMove.InstanceUUID != list.VMoves[0].InstanceUUID {
		t.Errorf("show: %+v, want %+v", one.VMove, list.VMoves[0])
	}
	var failed struct {
		VMoves []vmove `json:"vmoves"`
	}
	r.At("1.3").MustCall("GET", "/v1/notifications/"+id+"/vmoves?status=failed", nil, 200, &failed)
	if len(failed.VMoves) != 0 {
		t.Errorf("failed vmoves: %+v", failed.VMoves)
	}
	var n struct {
		Notification map[string]any `json:"notification"`
	}
	r.At("1.3").MustCall("GET", "/v1/notifications/"+id, nil, 200, &n)
	if s, _ := n.Notification["failover_segment_uuid"].(string); s == "" {
		t.Errorf("notification at 1.3 lacks failover_segment_uuid: %v", n.Notification)
	}
	if m, ok := n.Notification["message"]; !ok || m != nil {
		t.Errorf("finished notification's message at 1.3: %v (present %v)", m, ok)
	}
}

// [compute] max_concurrent_evacuations reaches the daemon's recoveries: with
// a bound of one, the host's two evacuations follow one another although
// host_failure_recovery_threads would run them together.
func TestEvacuationBoundOfTheDaemon(t *testing.T) {
	r := newEnv(t, 300, "[compute]\nmax_concurrent_evacuations = 1\n").Start(t)
	r.WaitLog("compute budget: at most 1 evacuations in flight across hosts, any number of requests per second")
	r.Segment("inproc", true, "compute1", "compute2", "compute3")
	id := r.Notify("COMPUTE_HOST", "compute1", map[string]string{"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"})
	if n := r.WaitFinal(id, time.Minute); n.Notification.Status != "finished" {
		t.Fatalf("ended %s", n.Notification.Status)
	}
	var out struct {
		VMoves []struct {
			Start string `json:"start_time"`
			End   string `json:"end_time"`
		} `json:"vmoves"`
	}
	r.At("1.3").MustCall("GET", "/v1/notifications/"+id+"/vmoves?sort_key=start_time&sort_dir=asc", nil, 200, &out)
	if len(out.VMoves) != 2 {
		t.Fatalf("vmoves: %+v", out.VMoves)
	}
	if first, second := out.VMoves[0], out.VMoves[1]; second.Start < first.End {
		t.Errorf("the evacuations overlapped: %+v", out.VMoves)
	}
}
