package api

import (
	"context"
	"encoding/json"
	"errors"
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

// failingStore is a database whose notification writes fail with err.
type failingStore struct {
	*db.DB
	err error
}

func (s failingStore) CreateNotification(context.Context, db.NewNotification, time.Duration) (db.Notification, error) {
	return db.Notification{}, s.err
}

// A write the database's storage refuses (disk full) answers Masakari's 503
// body saying so; any other failure answers its 500 body. Neither shows a
// Go type name or the database's own message, and both give the request id
// under which the log has the details.
func TestStorageFailureAnswers(t *testing.T) {
	full := &db.StorageError{What: "no space left for the database (its disk is full)",
		Err: errors.New("sqlite: database or disk is full (SQLITE_FULL) in /var/lib/kaifuku/kaifuku.db")}
	other := errors.New("insert notifications: driver: bad connection to notifications table")
	for _, tt := range []struct {
		err       error
		code      int
		name, say string
	}{
		{full, 503, "serviceUnavailable", "The request was not stored: no space left for the database (its disk is full)."},
		{other, 500, "masakariFault", "Unexpected API Error: the request failed inside kaifuku"},
	} {
		store, err := db.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "api.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		seg, err := store.CreateSegment(context.Background(), db.Segment{Name: "seg", RecoveryMethod: "auto", ServiceType: "COMPUTE", Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.CreateHost(context.Background(), seg.UUID, db.Host{Name: "compute-1", Type: "COMPUTE", ControlAttributes: "SSH"}); err != nil {
			t.Fatal(err)
		}
		log := logrus.New()
		var logged strings.Builder
		log.SetOutput(&logged)
		s, err := New(failingStore{store, tt.err}, func(context.Context, string) (bool, error) { return true, nil }, log,
			Settings{AuthStrategy: "noauth"})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(s)
		defer srv.Close()
		resp, err := http.Post(srv.URL+"/v1/notifications", "application/json", strings.NewReader(
			`{"notification": {"type": "VM", "hostname": "compute-1", "generated_time": "2024-01-01T00:00:00",
			  "payload": {"event": "LIFECYCLE", "instance_uuid": "11111111-1111-4111-8111-111111111111", "vir_domain_event": "STOPPED_FAILED"}}}`))
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var body map[string]struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(data, &body); err != nil || resp.StatusCode != tt.code || body[tt.name].Code != tt.code {
			t.Fatalf("%v: %d %s, want %d with a %s body", tt.err, resp.StatusCode, data, tt.code, tt.name)
		}
		msg := body[tt.name].Message
		reqID := resp.Header.Get("X-OpenStack-Request-Id")
		if !strings.Contains(msg, tt.say) || !strings.Contains(msg, reqID) {
			t.Errorf("%v: message %q, want it to say %q and give the request id %s", tt.err, msg, tt.say, reqID)
		}
		for _, leak := range []string{"*", "errors.", "db.", "sqlite", "/var/lib", "notifications table"} {
			if strings.Contains(msg, leak) {
				t.Errorf("%v: message %q shows %q", tt.err, msg, leak)
			}
		}
		if !strings.Contains(logged.String(), tt.err.Error()) || !strings.Contains(logged.String(), reqID) {
			t.Errorf("%v: the log does not have the error under the request id:\n%s", tt.err, logged.String())
		}
	}
}
