package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine"
)

// body answers GET path at microversion version with the admin token.
func (f *apiFixture) body(path, version string) string {
	f.t.Helper()
	req, _ := http.NewRequest("GET", f.srv.URL+f.expand(path), nil)
	req.Header.Set("X-Auth-Token", adminToken)
	req.Header.Set("OpenStack-API-Version", version)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		f.t.Fatalf("GET %s at %s: %d %s", path, version, resp.StatusCode, data)
	}
	return string(data)
}

// TestVMovesAPI checks microversion 1.3: the vmoves of a host notification
// (list with filters, sorting and paging, show, Masakari's errors, 404
// before 1.3) and the notification's failover_segment_uuid and message,
// absent before 1.3.
func TestVMovesAPI(t *testing.T) {
	f := newAPI(t, "token")
	ctx := context.Background()
	gen := "2026-11-25T21:44:11.000000"
	for _, c := range []apiCase{
		{name: "segment", method: "POST", path: "/v1/segments", body: `{"segment": {"name": "s", "recovery_method": "auto", "service_type": "COMPUTE"}}`,
			code: 201, save: map[string]string{"seg": "segment.uuid"}},
		{name: "host", method: "POST", path: "/v1/segments/{seg}/hosts", body: `{"host": {"name": "compute-1", "type": "COMPUTE", "control_attributes": "SSH"}}`, code: 201},
		{name: "host notification", method: "POST", path: "/v1/notifications", version: "instance-ha 1.3",
			body: `{"notification": {"type": "COMPUTE_HOST", "hostname": "compute-1", "generated_time": "` + gen + `", "payload": {"event": "STOPPED", "host_status": "NORMAL"}}}`,
			code: 202, header: "masakari 1.3", message: `"status":"new","failover_segment_uuid":"{seg}","message":null,"created_at"`,
			save: map[string]string{"n": "notification.notification_uuid"}},
		{name: "process notification", method: "POST", path: "/v1/notifications",
			body: `{"notification": {"type": "PROCESS", "hostname": "compute-1", "generated_time": "` + gen + `", "payload": {"event": "STOPPED", "process_name": "nova-compute"}}}`,
			code: 202, save: map[string]string{"p": "notification.notification_uuid"}},
	} {
		f.run(c)
	}
	n := f.vars["n"]
	ids := []string{"11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"}
	f.store.AddVMoves(n, "compute-1", engine.VMoveEvacuation, ids, func(err error) { t.Error(err) })
	if err := f.store.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 25, 21, 44, 20, 0, time.UTC)
	end := start.Add(5 * time.Second)
	f.store.UpdateVMove(n, ids[0], engine.VMoveUpdate{Status: engine.VMoveSucceeded, InstanceName: "vm1", DestHost: "compute-2", StartTime: &start, EndTime: &end}, func(err error) { t.Error(err) })
	if err := f.store.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	f.store.UpdateVMove(n, ids[1], engine.VMoveUpdate{Status: engine.VMoveFailed, InstanceName: "vm2", StartTime: &start, EndTime: &end, Message: "Failed reason: timeout."}, func(err error) { t.Error(err) })
	if err := f.store.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	msg := "Failed to evacuate instances '" + ids[1] + "' from host 'compute-1'"
	if ok, err := f.store.SetStatus(ctx, n, engine.StatusError, &msg); err != nil || !ok {
		t.Fatal(ok, err)
	}
	v13 := "instance-ha 1.3"
	for _, c := range []apiCase{
		{name: "list", method: "GET", path: "/v1/notifications/{n}/vmoves?sort_key=instance_uuid&sort_dir=asc", version: v13, code: 200, header: "masakari 1.3",
			message: `"notification_uuid":"{n}","instance_uuid":"` + ids[0] + `","instance_name":"vm1","source_host":"compute-1","dest_host":"compute-2","start_time":"2026-11-25T21:44:20.000000","end_time":"2026-11-25T21:44:25.000000","type":"evacuation","status":"succeeded","message":null,"created_at"`,
			save:    map[string]string{"first": "vmoves.uuid", "firstid": "vmoves.id"}},
		{name: "status filter", method: "GET", path: "/v1/notifications/{n}/vmoves?status=failed", version: v13, code: 200,
			message: `"instance_uuid":"` + ids[1] + `","instance_name":"vm2","source_host":"compute-1","dest_host":null`, save: map[string]string{"failed": "vmoves.instance_uuid"}},
		{name: "type filter", method: "GET", path: "/v1/notifications/{n}/vmoves?type=live_migration", version: v13, code: 200, message: `{"vmoves":[]}`},
		{name: "marker", method: "GET", path: "/v1/notifications/{n}/vmoves?sort_key=instance_uuid&sort_dir=asc&marker={firstid}", version: v13, code: 200,
			save: map[string]string{"after": "vmoves.instance_uuid"}},
		{name: "limit", method: "GET", path: "/v1/notifications/{n}/vmoves?sort_key=instance_uuid&sort_dir=desc&limit=1", version: v13, code: 200,
			save: map[string]string{"last": "vmoves.instance_uuid"}},
		{name: "unknown marker", method: "GET", path: "/v1/notifications/{n}/vmoves?marker=999", version: v13, code: 400, message: "Marker 999 could not be found."},
		{name: "bad sort key", method: "GET", path: "/v1/notifications/{n}/vmoves?sort_key=colour", version: v13, code: 400, message: "Sort key supplied was not valid."},
		{name: "show", method: "GET", path: "/v1/notifications/{n}/vmoves/{first}", version: v13, code: 200, message: `{"vmove":{"id":{firstid},"uuid":"{first}"`},
		{name: "unknown vmove", method: "GET", path: "/v1/notifications/{n}/vmoves/5f3b1c62-2a8e-4a5e-9d8e-0d6c6f1b2a10", version: v13, code: 404,
			message: "No vm move with id 5f3b1c62-2a8e-4a5e-9d8e-0d6c6f1b2a10."},
		{name: "vmove of another notification", method: "GET", path: "/v1/notifications/{p}/vmoves/{first}", version: v13, code: 400,
			message: "This notification {p} without vm moves."},
		{name: "not a host notification", method: "GET", path: "/v1/notifications/{p}/vmoves", version: v13, code: 400, message: "This notification {p} without vm moves."},
		{name: "unknown notification", method: "GET", path: "/v1/notifications/5f3b1c62-2a8e-4a5e-9d8e-0d6c6f1b2a10/vmoves", version: v13, code: 404,
			message: "No notification with id 5f3b1c62-2a8e-4a5e-9d8e-0d6c6f1b2a10."},
		{name: "list at 1.2", method: "GET", path: "/v1/notifications/{n}/vmoves", version: "instance-ha 1.2", code: 404, header: "instance-ha 1.2", message: "The resource could not be found."},
		{name: "show at 1.0", method: "GET", path: "/v1/notifications/{n}/vmoves/{first}", code: 404, message: "The resource could not be found."},
		{name: "1.2 before policy", method: "GET", path: "/v1/notifications/{n}/vmoves", version: "instance-ha 1.2", token: "reader-token", code: 404},
		{name: "policy", method: "GET", path: "/v1/notifications/{n}/vmoves", version: v13, token: "reader-token", code: 403,
			message: "Policy doesn't allow os_masakari_api:vmoves:index to be performed."},
		{name: "show policy", method: "GET", path: "/v1/notifications/{n}/vmoves/{first}", version: v13, token: "reader-token", code: 403,
			message: "Policy doesn't allow os_masakari_api:vmoves:detail to be performed."},
		{name: "notification at 1.3", method: "GET", path: "/v1/notifications/{n}", version: v13, code: 200,
			message: `"state":"FAILURE"}],"failover_segment_uuid":"{seg}","message":"` + msg + `","created_at"`},
		{name: "list at 1.3", method: "GET", path: "/v1/notifications?type=COMPUTE_HOST", version: v13, code: 200,
			message: `"status":"error","failover_segment_uuid":"{seg}","message":"` + msg + `","created_at"`},
		{name: "versions", method: "GET", path: "/", token: "-", code: 200, message: `"version":"1.3","min_version":"1.0"`},
	} {
		f.run(c)
	}
	if f.vars["failed"] != ids[1] || f.vars["after"] != ids[1] || f.vars["last"] != ids[1] {
		t.Errorf("list results: %v", f.vars)
	}
	for _, v := range []string{"instance-ha 1.0", "instance-ha 1.2"} {
		for _, path := range []string{"/v1/notifications/{n}", "/v1/notifications"} {
			// The notifications' own keys: a details entry has a "message"
			// of its own.
			b := f.body(path, v)
			var one struct{ Notification map[string]json.RawMessage }
			var many struct{ Notifications []map[string]json.RawMessage }
			if err := json.Unmarshal([]byte(b), &one); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(b), &many); err != nil {
				t.Fatal(err)
			}
			for _, n := range append(many.Notifications, one.Notification) {
				if _, seg := n["failover_segment_uuid"]; seg {
					t.Errorf("GET %s at %s shows failover_segment_uuid: %s", path, v, b)
				}
				if _, m := n["message"]; m {
					t.Errorf("GET %s at %s shows message: %s", path, v, b)
				}
			}
		}
	}
	// A finished notification has no message at 1.3, as in Masakari.
	done := "Skipping recovery for process: nova-compute."
	if ok, err := f.store.SetStatus(ctx, f.vars["p"], engine.StatusFinished, &done); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if b := f.body("/v1/notifications/{p}", v13); !strings.Contains(b, `"message":null`) {
		t.Errorf("finished notification at 1.3: %s", b)
	}
}
