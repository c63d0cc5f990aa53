package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/engine/db"
)

const adminToken = "secret-admin-token"

type apiFixture struct {
	t     testing.TB
	srv   *httptest.Server
	store *db.DB
	vars  map[string]string
}

func newAPIB(b *testing.B) *apiFixture { return newAPI(b, "token") }

func (f *apiFixture) post(b *testing.B, path, body string) string {
	req, _ := http.NewRequest("POST", f.srv.URL+path, strings.NewReader(body))
	req.Header.Set("X-Auth-Token", adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		b.Fatalf("POST %s: %d %s", path, resp.StatusCode, data)
	}
	return string(data)
}

func newAPI(t testing.TB, strategy string) *apiFixture {
	t.Helper()
	return newAPILimit(t, strategy, 4096)
}

// newAPILimit is newAPI with a body limit of maxBody bytes.
func newAPILimit(t testing.TB, strategy string, maxBody int64) *apiFixture {
	t.Helper()
	store, err := db.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "api.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	computes := map[string]bool{"compute-1": true, "compute-2": true, "compute-3": true, "compute-4": true}
	log := logrus.New()
	log.SetOutput(io.Discard)
	s, err := New(store, func(_ context.Context, name string) (bool, error) { return computes[name], nil }, log,
		Settings{AuthStrategy: strategy, Tokens: map[string]string{adminToken: "admin", "reader-token": "member"},
			DuplicateWindow: 180 * time.Second, MaxBodyBytes: maxBody})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &apiFixture{t: t, srv: srv, store: store, vars: map[string]string{}}
}

type apiCase struct {
	name    string
	method  string
	path    string
	version string // OpenStack-API-Version value; "" sends none
	token   string // "" sends the admin token; "-" sends none
	body    string
	code    int
	// message is the error message (errors) or a JSON fragment the body
	// must contain (successes).
	message string
	// header is the expected OpenStack-API-Version of the response.
	header string
	// save stores a field of the answer (path "segment.uuid") under a name.
	save map[string]string
}

func (f *apiFixture) expand(s string) string {
	for k, v := range f.vars {
		s = strings.ReplaceAll(s, "{"+k+"}", v)
	}
	return s
}

func (f *apiFixture) run(c apiCase) {
	t := f.t
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(f.expand(c.body))
	}
	req, err := http.NewRequest(c.method, f.srv.URL+f.expand(c.path), body)
	if err != nil {
		t.Fatal(err)
	}
	switch c.token {
	case "":
		req.Header.Set("X-Auth-Token", adminToken)
	case "-":
	default:
		req.Header.Set("X-Auth-Token", c.token)
	}
	if c.version != "" {
		req.Header.Set("OpenStack-API-Version", c.version)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != c.code {
		t.Fatalf("%s: %s %s: status %d, want %d: %s", c.name, c.method, c.path, resp.StatusCode, c.code, data)
	}
	if c.header != "" && resp.Header.Get("OpenStack-API-Version") != c.header {
		t.Errorf("%s: OpenStack-API-Version %q, want %q", c.name, resp.Header.Get("OpenStack-API-Version"), c.header)
	}
	if c.header != "" && resp.Header.Get("Vary") != "OpenStack-API-Version" {
		t.Errorf("%s: Vary %q", c.name, resp.Header.Get("Vary"))
	}
	if c.code >= 400 {
		var fault map[string]struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(data, &fault); err != nil || len(fault) != 1 {
			t.Fatalf("%s: error body %s is not a Masakari fault", c.name, data)
		}
		for name, v := range fault {
			if v.Code != c.code || name != faultName(c.code) {
				t.Errorf("%s: fault %s code %d, want %s %d", c.name, name, v.Code, faultName(c.code), c.code)
			}
			if c.message != "" && v.Message != f.expand(c.message) {
				t.Errorf("%s: message\n got %q\nwant %q", c.name, v.Message, f.expand(c.message))
			}
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=UTF-8" {
			t.Errorf("%s: error Content-Type %q", c.name, ct)
		}
		return
	}
	if c.message != "" && !strings.Contains(string(data), f.expand(c.message)) {
		t.Errorf("%s: body lacks %s:\n%s", c.name, f.expand(c.message), data)
	}
	for name, path := range c.save {
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatal(err)
		}
		for _, p := range strings.Split(path, ".") {
			switch x := v.(type) {
			case map[string]any:
				v = x[p]
			case []any:
				v = x[0]
				if m, ok := v.(map[string]any); ok {
					v = m[p]
				}
			}
		}
		switch x := v.(type) {
		case string:
			f.vars[name] = x
		case float64:
			f.vars[name] = strings.TrimSuffix(strings.TrimSuffix(jsonNum(x), ".0"), ".")
		default:
			t.Fatalf("%s: no %s in %s", c.name, path, data)
		}
	}
}

func jsonNum(x float64) string { b, _ := json.Marshal(x); return string(b) }

func faultName(code int) string {
	if n, ok := faultNames[code]; ok {
		return n
	}
	return "masakariFault"
}

// TestAPI plays Masakari's recorded exchanges (masakari-wire samples) and
// every error path, in order: later cases use what earlier ones created.
func TestAPI(t *testing.T) {
	f := newAPI(t, "token")
	gen := "2026-11-25T21:44:11.000000"
	vmBody := `{"notification": {"type": "VM", "hostname": "compute-3", "generated_time": "` + gen + `", "payload": {"event": "LIFECYCLE", "instance_uuid": "8d4c7f2e-0b1a-4e0e-9f3c-5d2a1b6c7e8f", "vir_domain_event": "STOPPED_FAILED"}}}`
	cases := []apiCase{
		// versions and microversions
		{name: "versions", method: "GET", path: "/", token: "-", code: 200, message: `"versions":[{"id":"v1.0","status":"CURRENT","version":"1.3","min_version":"1.0","updated":"2016-07-01T11:33:21Z"`},
		{name: "v1 document", method: "GET", path: "/v1", token: "-", code: 200, header: "masakari 1.0", message: `"media-types":[{"base":"application/json","type":"application/vnd.openstack.masakari+json;version=1"}]`},
		{name: "v1 slash", method: "GET", path: "/v1/", token: "-", code: 200, header: "masakari 1.0"},
		{name: "406", method: "GET", path: "/v1/segments", version: "instance-ha 9.9", code: 406, header: "instance-ha 9.9",
			message: "Version 9.9 is not supported by the API. Minimum is 1.0 and maximum is 1.3."},
		{name: "malformed version", method: "GET", path: "/v1/segments", version: "instance-ha one", code: 400,
			message: "API Version String one is of invalid format. Must be of format MajorNum.MinorNum."},
		{name: "latest", method: "GET", path: "/v1/segments", version: "instance-ha latest", code: 200, header: "masakari 1.3", message: `{"segments":[]}`},
		// auth
		{name: "no token", method: "GET", path: "/v1/segments", token: "-", code: 401, message: "The request you have made requires authentication."},
		{name: "bad token", method: "GET", path: "/v1/segments", token: "wrong", code: 401, message: "The request you have made requires authentication."},
		{name: "not admin", method: "GET", path: "/v1/segments", token: "reader-token", code: 403, message: "Policy doesn't allow os_masakari_api:segments:index to be performed."},
		// segments
		{name: "create segment", method: "POST", path: "/v1/segments", body: `{"segment": {"name": "segment-auto", "recovery_method": "auto", "service_type": "COMPUTE", "description": "reference segment"}}`,
			code: 201, header: "masakari 1.0", message: `"name":"segment-auto","service_type":"COMPUTE","enabled":true,"description":"reference segment","recovery_method":"auto"`,
			save: map[string]string{"seg": "segment.uuid", "segid": "segment.id"}},
		{name: "create segment 1.2 disabled", method: "POST", path: "/v1/segments", version: "instance-ha 1.2",
			body: `{"segment": {"name": "segment-rh", "recovery_method": "reserved_host", "service_type": "COMPUTE", "enabled": false}}`,
			code: 201, header: "masakari 1.2", message: `"enabled":false,"description":null,"recovery_method":"reserved_host"`, save: map[string]string{"seg2": "segment.uuid"}},
		{name: "duplicate segment", method: "POST", path: "/v1/segments", body: `{"segment": {"name": "segment-auto", "recovery_method": "auto", "service_type": "COMPUTE"}}`,
			code: 409, header: "instance-ha 1.0", message: "Failover segment with name segment-auto already exists."},
		{name: "bad recovery method", method: "POST", path: "/v1/segments", body: `{"segment": {"name": "segment-bad", "recovery_method": "manual", "service_type": "COMPUTE"}}`,
			code: 400, message: "Invalid input for field/attribute recovery_method. Value: manual. 'manual' is not one of ['auto', 'reserved_host', 'auto_priority', 'rh_priority']"},
		{name: "enabled at 1.0", method: "POST", path: "/v1/segments", body: `{"segment": {"name": "segment-x", "recovery_method": "auto", "service_type": "COMPUTE", "enabled": true}}`,
			code: 400, message: "Invalid input for field/attribute segment. Value: {'name': 'segment-x', 'recovery_method': 'auto', 'service_type': 'COMPUTE', 'enabled': True}. Additional properties are not allowed ('enabled' was unexpected)"},
		{name: "bad name", method: "POST", path: "/v1/segments", body: `{"segment": {"name": " lead", "recovery_method": "auto", "service_type": "COMPUTE"}}`,
			code: 400, message: nameMessage},
		{name: "no segment key", method: "POST", path: "/v1/segments", body: `{}`, code: 400, message: "'segment' is a required property"},
		{name: "malformed body", method: "POST", path: "/v1/segments", body: `{"segment": `, code: 400, message: "Malformed request body"},
		{name: "too large", method: "POST", path: "/v1/segments", body: `{"segment": {"name": "` + strings.Repeat("x", 5000) + `"}}`, code: 413, message: "Request is too large."},
		{name: "list segments", method: "GET", path: "/v1/segments", code: 200, message: `"name":"segment-rh"`},
		{name: "list segments filtered", method: "GET", path: "/v1/segments?recovery_method=auto&enabled=true", code: 200, save: map[string]string{"only": "segments.name"}},
		{name: "bad enabled filter", method: "GET", path: "/v1/segments?enabled=maybe", code: 400,
			message: "Invalid value for enabled: Unrecognized value 'maybe', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'"},
		{name: "sort asc limit", method: "GET", path: "/v1/segments?sort_key=name&sort_dir=asc&limit=1", code: 200, save: map[string]string{"first": "segments.name"}},
		{name: "marker", method: "GET", path: "/v1/segments?sort_key=id&sort_dir=asc&marker={segid}", code: 200, message: `"name":"segment-rh"`},
		{name: "unknown marker", method: "GET", path: "/v1/segments?marker=999", code: 400, message: "Marker 999 could not be found."},
		{name: "bad sort key", method: "GET", path: "/v1/segments?sort_key=colour", code: 400, message: "Sort key supplied was not valid."},
		{name: "bad sort dir", method: "GET", path: "/v1/segments?sort_key=name&sort_dir=up", code: 400, message: "Unknown sort direction, must be 'asc' or 'desc'"},
		{name: "bad limit", method: "GET", path: "/v1/segments?limit=x", code: 400, message: "limit param must be an integer"},
		{name: "negative limit", method: "GET", path: "/v1/segments?limit=-1", code: 400, message: "limit param must be positive"},
		{name: "show segment", method: "GET", path: "/v1/segments/{seg}", code: 200, message: `"uuid":"{seg}"`},
		{name: "unknown segment", method: "GET", path: "/v1/segments/5f3b1c62-2a8e-4a5e-9d8e-0d6c6f1b2a10", code: 404, message: "No failover segment with id 5f3b1c62-2a8e-4a5e-9d8e-0d6c6f1b2a10."},
		{name: "update segment", method: "PUT", path: "/v1/segments/{seg2}", body: `{"segment": {"description": "rh"}}`, code: 200, message: `"description":"rh"`},
		{name: "empty update", method: "PUT", path: "/v1/segments/{seg2}", body: `{"segment": {}}`, code: 400,
			message: "Invalid input for field/attribute segment. Value: {}. {} is not valid under any of the given schemas"},
		{name: "rename to taken", method: "PUT", path: "/v1/segments/{seg2}", body: `{"segment": {"name": "segment-auto"}}`, code: 409, message: "Failover segment with name segment-auto already exists."},
		// hosts
		{name: "create host", method: "POST", path: "/v1/segments/{seg}/hosts", body: `{"host": {"name": "compute-1", "type": "COMPUTE", "control_attributes": "SSH"}}`,
			code: 201, message: `"name":"compute-1","failover_segment_id":"{seg}","failover_segment":{`, save: map[string]string{"h1": "host.uuid"}},
		{name: "create host 2", method: "POST", path: "/v1/segments/{seg}/hosts", body: `{"host": {"name": "compute-2", "type": "COMPUTE", "control_attributes": "SSH"}}`,
			code: 201, save: map[string]string{"h2": "host.uuid"}},
		{name: "string booleans", method: "POST", path: "/v1/segments/{seg}/hosts", body: `{"host": {"name": "compute-3", "type": "COMPUTE", "control_attributes": "SSH", "reserved": "false", "on_maintenance": "False"}}`,
			code: 201, message: `"reserved":false,"control_attributes":"SSH","on_maintenance":false`, save: map[string]string{"h3": "host.uuid"}},
		{name: "bad boolean", method: "POST", path: "/v1/segments/{seg}/hosts", body: `{"host": {"name": "compute-4", "type": "COMPUTE", "control_attributes": "SSH", "reserved": "maybe"}}`,
			code: 400, message: "Invalid input for field/attribute reserved. Value: maybe. 'maybe' is not one of [True, 'True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES', 'Yes', 'yes', False, 'False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No', 'no']"},
		{name: "duplicate host", method: "POST", path: "/v1/segments/{seg2}/hosts", body: `{"host": {"name": "compute-1", "type": "COMPUTE", "control_attributes": "SSH"}}`,
			code: 409, message: "Host with name compute-1 already exists."},
		{name: "missing control_attributes", method: "POST", path: "/v1/segments/{seg}/hosts", body: `{"host": {"name": "compute-9", "type": "COMPUTE"}}`,
			code: 400, message: "Invalid input for field/attribute host. Value: {'name': 'compute-9', 'type': 'COMPUTE'}. 'control_attributes' is a required property"},
		{name: "no such compute", method: "POST", path: "/v1/segments/{seg}/hosts", body: `{"host": {"name": "nonexistent-host", "type": "COMPUTE", "control_attributes": "SSH"}}`,
			code: 400, message: "Compute service with name nonexistent-host could not be found."},
		{name: "host of unknown segment", method: "POST", path: "/v1/segments/5f3b1c62-2a8e-4a5e-9d8e-0d6c6f1b2a10/hosts", body: `{"host": {"name": "compute-4", "type": "COMPUTE", "control_attributes": "SSH"}}`,
			code: 404, message: "No failover segment with id 5f3b1c62-2a8e-4a5e-9d8e-0d6c6f1b2a10."},
		{name: "list hosts", method: "GET", path: "/v1/segments/{seg}/hosts", code: 200, save: map[string]string{"newest": "hosts.name"}},
		{name: "bad host filter", method: "GET", path: "/v1/segments/{seg}/hosts?on_maintenance=perhaps", code: 400,
			message: "Invalid value for on_maintenance: Unrecognized value 'perhaps', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'"},
		{name: "show host", method: "GET", path: "/v1/segments/{seg}/hosts/{h1}", code: 200, message: `"uuid":"{h1}","name":"compute-1"`},
		{name: "host in other segment", method: "GET", path: "/v1/segments/{seg2}/hosts/{h1}", code: 404, message: "Host '{h1}' under failover_segment '{seg2}' could not be found."},
		{name: "unknown host", method: "GET", path: "/v1/segments/{seg}/hosts/5f3b1c62-2a8e-4a5e-9d8e-0d6c6f1b2a10", code: 404, message: "No host with id 5f3b1c62-2a8e-4a5e-9d8e-0d6c6f1b2a10."},
		{name: "update host", method: "PUT", path: "/v1/segments/{seg}/hosts/{h2}", body: `{"host": {"reserved": true}}`, code: 200, message: `"reserved":true`},
		// notifications
		{name: "create COMPUTE_HOST", method: "POST", path: "/v1/notifications",
			body: `{"notification": {"type": "COMPUTE_HOST", "hostname": "compute-1", "generated_time": "` + gen + `", "payload": {"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"}}}`,
			code: 202, header: "masakari 1.0", message: `"generated_time":"2026-11-25T21:44:11.000000","source_host_uuid":"{h1}","type":"COMPUTE_HOST","payload":{"event":"STOPPED","host_status":"NORMAL","cluster_status":"OFFLINE"},"status":"new"`,
			save: map[string]string{"n1": "notification.notification_uuid"}},
		{name: "create VM", method: "POST", path: "/v1/notifications", body: vmBody, code: 202, save: map[string]string{"n2": "notification.notification_uuid"}},
		{name: "duplicate VM", method: "POST", path: "/v1/notifications", body: vmBody, code: 409, message: "Notification received from host compute-3 of type VM is duplicate."},
		{name: "missing hostname", method: "POST", path: "/v1/notifications",
			body:    `{"notification": {"type": "VM", "generated_time": "` + gen + `", "payload": {"event": "LIFECYCLE", "instance_uuid": "8d4c7f2e-0b1a-4e0e-9f3c-5d2a1b6c7e8f", "vir_domain_event": "STOPPED_FAILED"}}}`,
			code:    400,
			message: "Invalid input for field/attribute notification. Value: {'type': 'VM', 'generated_time': '2026-11-25T21:44:11.000000', 'payload': {'event': 'LIFECYCLE', 'instance_uuid': '8d4c7f2e-0b1a-4e0e-9f3c-5d2a1b6c7e8f', 'vir_domain_event': 'STOPPED_FAILED'}}. 'hostname' is a required property"},
		{name: "unknown type", method: "POST", path: "/v1/notifications", body: `{"notification": {"type": "STORAGE", "hostname": "compute-3", "generated_time": "` + gen + `", "payload": {"event": "STOPPED"}}}`,
			code: 400, message: "Invalid input for field/attribute type. Value: STORAGE. 'STORAGE' is not one of ('COMPUTE_HOST', 'VM', 'PROCESS')"},
		{name: "bad host event", method: "POST", path: "/v1/notifications", body: `{"notification": {"type": "COMPUTE_HOST", "hostname": "compute-1", "generated_time": "` + gen + `", "payload": {"event": "EXPLODED"}}}`,
			code: 400, message: "Invalid input for field/attribute event. Value: EXPLODED. 'EXPLODED' is not one of ('STARTED', 'STOPPED')"},
		{name: "extra payload key", method: "POST", path: "/v1/notifications", body: `{"notification": {"type": "COMPUTE_HOST", "hostname": "compute-1", "generated_time": "` + gen + `", "payload": {"event": "STOPPED", "foo": "bar"}}}`,
			code: 400, message: "Additional properties are not allowed ('foo' was unexpected)"},
		{name: "missing process_name", method: "POST", path: "/v1/notifications", body: `{"notification": {"type": "PROCESS", "hostname": "compute-2", "generated_time": "` + gen + `", "payload": {"event": "STOPPED"}}}`,
			code: 400, message: "'process_name' is a required property"},
		{name: "instance_uuid not a uuid", method: "POST", path: "/v1/notifications",
			body: `{"notification": {"type": "VM", "hostname": "compute-3", "generated_time": "` + gen + `", "payload": {"event": "LIFECYCLE", "instance_uuid": "not-a-uuid", "vir_domain_event": "STOPPED_FAILED"}}}`,
			code: 400, message: "Invalid input for field/attribute instance_uuid. Value: not-a-uuid. 'not-a-uuid' is not a 'uuid'"},
		{name: "generated_time not a date", method: "POST", path: "/v1/notifications",
			body: `{"notification": {"type": "VM", "hostname": "compute-3", "generated_time": "yesterday", "payload": {"event": "LIFECYCLE", "instance_uuid": "8d4c7f2e-0b1a-4e0e-9f3c-5d2a1b6c7e8f", "vir_domain_event": "STOPPED_FAILED"}}}`,
			code: 400, message: "Invalid input for field/attribute generated_time. Value: yesterday. 'yesterday' is not a 'date-time'"},
		{name: "payload value not a string", method: "POST", path: "/v1/notifications",
			body: `{"notification": {"type": "PROCESS", "hostname": "compute-2", "generated_time": "` + gen + `", "payload": {"event": "STOPPED", "process_name": 5}}}`,
			code: 400, message: "Invalid input for field/attribute process_name. Value: 5. 5 is not of type 'string'"},
		{name: "unknown property", method: "POST", path: "/v1/notifications",
			body:    `{"notification": {"type": "PROCESS", "hostname": "compute-2", "generated_time": "` + gen + `", "payload": {"event": "STOPPED", "process_name": "nova-compute"}, "extra": 1}}`,
			code:    400,
			message: "Invalid input for field/attribute notification. Value: {'type': 'PROCESS', 'hostname': 'compute-2', 'generated_time': '2026-11-25T21:44:11.000000', 'payload': {'event': 'STOPPED', 'process_name': 'nova-compute'}, 'extra': 1}. Additional properties are not allowed ('extra' was unexpected)"},
		{name: "unknown host", method: "POST", path: "/v1/notifications",
			body: `{"notification": {"type": "PROCESS", "hostname": "compute-77", "generated_time": "` + gen + `", "payload": {"event": "STOPPED", "process_name": "nova-compute"}}}`,
			code: 400, message: "Host with name compute-77 could not be found."},
		{name: "malformed notification", method: "POST", path: "/v1/notifications", body: `{"notification": {"type": `, code: 400, message: "Malformed request body"},
		{name: "empty notification", method: "POST", path: "/v1/notifications", body: `{}`, code: 400, message: "'notification' is a required property"},
		{name: "list notifications", method: "GET", path: "/v1/notifications", code: 200, save: map[string]string{"latest": "notifications.notification_uuid"}},
		{name: "filter notifications", method: "GET", path: "/v1/notifications?type=VM&status=new", code: 200, message: `"notification_uuid":"{n2}"`},
		{name: "bad generated-since", method: "GET", path: "/v1/notifications?generated-since=notadate", code: 400, message: "Invalid generated-since value"},
		{name: "show notification 1.0", method: "GET", path: "/v1/notifications/{n1}", code: 200, message: `"status":"new","created_at"`},
		{name: "show notification 1.1", method: "GET", path: "/v1/notifications/{n1}", version: "instance-ha 1.1", code: 200, header: "masakari 1.1", message: `"status":"new","recovery_workflow_details":[],"created_at"`},
		{name: "unknown notification", method: "GET", path: "/v1/notifications/5f3b1c62-2a8e-4a5e-9d8e-0d6c6f1b2a10", code: 404, message: "No notification with id 5f3b1c62-2a8e-4a5e-9d8e-0d6c6f1b2a10."},
		{name: "notification not a uuid", method: "GET", path: "/v1/notifications/not-a-uuid", code: 404, message: "No notification with id not-a-uuid."},
		{name: "PUT notification", method: "PUT", path: "/v1/notifications/{n1}", body: `{}`, code: 405, message: "The method specified is not allowed for this resource."},
		{name: "DELETE notification", method: "DELETE", path: "/v1/notifications/{n1}", code: 405, message: "The method specified is not allowed for this resource."},
		// in-use protection while notifications are new
		{name: "segment in use (update)", method: "PUT", path: "/v1/segments/{seg}", body: `{"segment": {"description": "x"}}`, code: 409,
			message: "Failover segment {seg} can't be updated as it is in-use to process notifications."},
		{name: "segment in use (delete)", method: "DELETE", path: "/v1/segments/{seg}", code: 409,
			message: "Failover segment ({seg}) can't be deleted as it is in-use to process notifications."},
		{name: "host in use (update)", method: "PUT", path: "/v1/segments/{seg}/hosts/{h1}", body: `{"host": {"type": "X"}}`, code: 409,
			message: "Host {h1} can't be updated as it is in-use to process notifications."},
		{name: "host in use (delete)", method: "DELETE", path: "/v1/segments/{seg}/hosts/{h1}", code: 409,
			message: "Host {h1} can't be deleted as it is in-use to process notifications."},
		{name: "unknown route", method: "GET", path: "/v1/vmoves", code: 404},
	}
	for _, c := range cases {
		f.run(c)
	}
	if f.vars["only"] != "segment-auto" || f.vars["first"] != "segment-auto" || f.vars["newest"] != "compute-3" || f.vars["latest"] != f.vars["n2"] {
		t.Errorf("list results: %v", f.vars)
	}

	// After the engine ran: maintenance 409, deletes cascade.
	ctx := context.Background()
	for _, id := range []string{f.vars["n1"], f.vars["n2"]} {
		if ok, err := f.store.SetStatus(ctx, id, "finished", nil); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	if err := f.store.SetMaintenance(ctx, "compute-1", true); err != nil {
		t.Fatal(err)
	}
	for _, c := range []apiCase{
		{name: "host on maintenance", method: "POST", path: "/v1/notifications",
			body: `{"notification": {"type": "COMPUTE_HOST", "hostname": "compute-1", "generated_time": "2026-11-25T21:44:20.000000", "payload": {"event": "STOPPED", "host_status": "UNKNOWN", "cluster_status": "OFFLINE"}}}`,
			code: 409, message: "Notification received from host compute-1 of type 'COMPUTE_HOST' is ignored as the host is already under maintenance."},
		{name: "duplicate ignores status", method: "POST", path: "/v1/notifications", body: vmBody, code: 409},
		{name: "outside the window", method: "POST", path: "/v1/notifications", body: strings.Replace(vmBody, gen, "2026-11-25T21:50:00", 1), code: 202},
		{name: "delete host", method: "DELETE", path: "/v1/segments/{seg}/hosts/{h2}", code: 204},
		{name: "delete segment2", method: "DELETE", path: "/v1/segments/{seg2}", code: 204},
		{name: "deleted segment", method: "GET", path: "/v1/segments/{seg2}", code: 404},
	} {
		f.run(c)
	}
}

func TestAPINoAuth(t *testing.T) {
	f := newAPI(t, "noauth")
	f.run(apiCase{name: "noauth list", method: "GET", path: "/v1/segments", token: "-", code: 200})
}

func TestPyRepr(t *testing.T) {
	for in, want := range map[string]string{
		`{"a": "it's", "b": [1, 2.5, true, null], "c": {"d": "x\ny"}}`: `{'a': "it's", 'b': [1, 2.5, True, None], 'c': {'d': 'x\ny'}}`,
		`1.0`: `1.0`, `"a'b\"c"`: `'a\'b"c'`,
	} {
		n, err := decodeBody([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if got := pyReprNode(n); got != want {
			t.Errorf("repr(%s) = %s, want %s", in, got, want)
		}
	}
	a, b := 0.1, 0.2
	for _, c := range []struct {
		f    float64
		want string
	}{{0, "0.0"}, {1, "1.0"}, {0.3, "0.3"}, {a + b, "0.30000000000000004"}, {1e-5, "1e-05"}} {
		if got := pyFloat(c.f); got != c.want {
			t.Errorf("pyFloat(%v) = %s, want %s", c.f, got, c.want)
		}
	}
	ts := time.Date(2026, 11, 25, 21, 44, 12, 923165000, time.UTC)
	if got := pyTime(ts); got != "2026-11-25 21:44:12.923165" {
		t.Errorf("pyTime = %s", got)
	}
	if got := pyTime(ts.Truncate(time.Second)); got != "2026-11-25 21:44:12" {
		t.Errorf("pyTime whole second = %s", got)
	}
}
