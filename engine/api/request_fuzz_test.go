package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/engine/db"
)

// FuzzRequestBody: whatever body a client posts, each endpoint taking one
// answers a success or a client error (400, 409, 413) in Masakari's body,
// never a 500, a panic or a hang; what it accepts is a JSON object.
func FuzzRequestBody(f *testing.F) {
	for _, s := range []string{
		`{"notification": {"type": "VM", "hostname": "compute-1", "generated_time": "2024-01-01T00:00:00", "payload": {"event": "LIFECYCLE", "instance_uuid": "11111111-1111-4111-8111-111111111111", "vir_domain_event": "STOPPED_FAILED"}}}`,
		`{"notification": {"type": "COMPUTE_HOST", "hostname": "compute-1", "generated_time": "2024-01-01T00:00:00", "payload": {"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"}}}`,
		`{"notification": {"type": "PROCESS", "hostname": "compute-1", "generated_time": "2024-01-01T00:00:00", "payload": {"event": "STOPPED", "process_name": "nova-compute"}}}`,
		`{"segment": {"name": "s", "recovery_method": "auto", "service_type": "COMPUTE"}}`,
		`{"host": {"name": "compute-2", "type": "COMPUTE", "control_attributes": "SSH"}}`,
		`{"notification": {"type": "VM", "type": "VM"}}`, `[[[[[[[[[[]]]]]]]]]]`, `{"a": 1} {"b": 2}`, "{\"segment\": {\"name\": \"\xff\"}}",
		`{"notification": null}`, `"text"`, ``, `{`, `{"segment": {"name": "s", "recovery_method": "auto", "service_type": "COMPUTE", "description": 1e999}}`,
	} {
		f.Add(0, []byte(s))
	}
	store, err := db.OpenSQLite(context.Background(), filepath.Join(f.TempDir(), "api.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { store.Close() })
	seg, err := store.CreateSegment(context.Background(), db.Segment{Name: "seg", RecoveryMethod: "auto", ServiceType: "COMPUTE", Enabled: true})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := store.CreateHost(context.Background(), seg.UUID, db.Host{Name: "compute-1", Type: "COMPUTE", ControlAttributes: "SSH"}); err != nil {
		f.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	s, err := New(store, func(_ context.Context, name string) (bool, error) { return strings.HasPrefix(name, "compute-"), nil }, log,
		Settings{AuthStrategy: "noauth", DuplicateWindow: time.Hour, MaxBodyBytes: 64 << 10})
	if err != nil {
		f.Fatal(err)
	}
	endpoints := []string{"POST /v1/notifications", "POST /v1/segments", "POST /v1/segments/" + seg.UUID + "/hosts",
		"PUT /v1/segments/" + seg.UUID}
	f.Fuzz(func(t *testing.T, endpoint int, body []byte) {
		method, path, _ := strings.Cut(endpoints[uint(endpoint)%uint(len(endpoints))], " ")
		req := httptest.NewRequest(method, path, strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		switch code := w.Code; {
		case code == 200 || code == 201 || code == 202:
			var v map[string]any
			if err := json.Unmarshal(body, &v); err != nil {
				t.Fatalf("%s %s accepted %q (%d), which is not a JSON object: %v", method, path, body, code, err)
			}
		case code == 400 || code == 409 || code == 413:
			var fault map[string]struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &fault); err != nil || len(fault) != 1 {
				t.Fatalf("%s %s %q: %d with a body not in Masakari's shape: %s", method, path, body, code, w.Body)
			}
			for _, f := range fault {
				if f.Code != code || f.Message == "" {
					t.Fatalf("%s %s %q: %d with %s", method, path, body, code, w.Body)
				}
			}
		default:
			t.Fatalf("%s %s %q: %d %s", method, path, body, w.Code, w.Body)
		}
	})
}
