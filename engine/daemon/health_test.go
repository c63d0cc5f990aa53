package daemon

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine/db"
)

// /healthz says unhealthy while the database's writes fail (a full disk
// leaves reads working), with what fails and since when, and ok again once
// a write succeeds.
func TestHealthReportsWriteFailures(t *testing.T) {
	since := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	full := &db.StorageError{What: "no space left for the database (its disk is full)", Err: errors.New("database or disk is full")}
	code, body := health(3, nil, since, full)
	msg, _ := body["error"].(string)
	if code != http.StatusServiceUnavailable || body["status"] != "unhealthy" ||
		!strings.Contains(msg, "disk is full") || !strings.Contains(msg, "since 2024-05-01T10:00:00Z") {
		t.Errorf("a failing write: %d %v", code, body)
	}
	if code, body := health(3, errors.New("unable to open database file"), time.Time{}, nil); code != http.StatusServiceUnavailable ||
		body["error"] != "database: unable to open database file" {
		t.Errorf("a failing read: %d %v", code, body)
	}
	if code, body := health(3, nil, time.Time{}, nil); code != http.StatusOK || body["status"] != "ok" || body["notifications"] != 3 {
		t.Errorf("healthy: %d %v", code, body)
	}
}
