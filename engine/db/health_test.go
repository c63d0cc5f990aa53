package db

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// A full disk, made real by capping the SQLite file at its current size:
// writes fail with a *StorageError saying so, WriteFailure reports it until
// a write succeeds again, and what was stored before is still there.
func TestDiskFull(t *testing.T) {
	d, _ := openTest(t)
	ctx := context.Background()
	seed(t, d, 1)
	before := notify(t, d, "h0", 0)
	if since, err := d.WriteFailure(); err != nil || !since.IsZero() {
		t.Fatalf("healthy database: %v %v", since, err)
	}

	var pages int
	if err := d.w.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := d.w.ExecContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages)); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 64<<10) // more than the free space left in the file's pages
	var failed error
	for i := 1; i < 50 && failed == nil; i++ {
		_, failed = d.CreateNotification(ctx, NewNotification{Type: "VM", Hostname: "h0", GeneratedTime: time.Now().UTC(),
			Payload: json.RawMessage(fmt.Sprintf(`{"event":"LIFECYCLE","n":"%d","pad":"%s"}`, i, big))}, 0)
	}
	var se *StorageError
	if !errors.As(failed, &se) || !strings.Contains(se.What, "disk is full") {
		t.Fatalf("a write on a full disk: %v (%T), want a *StorageError saying the disk is full", failed, failed)
	}
	since, err := d.WriteFailure()
	if !errors.As(err, &se) || since.IsZero() {
		t.Fatalf("WriteFailure after a failed write: %v %v", since, err)
	}
	// A refused write that is not the storage's fault leaves the failure.
	if _, err := d.CreateNotification(ctx, NewNotification{Type: "VM", Hostname: "nowhere", GeneratedTime: time.Now().UTC(),
		Payload: json.RawMessage(`{}`)}, 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown host: %v", err)
	}
	if _, err := d.WriteFailure(); err == nil {
		t.Error("a refused unknown host cleared the storage failure")
	}

	// Space is back: writes succeed, the failure is cleared, and the
	// notification stored before the disk filled is still there.
	if _, err := d.w.ExecContext(ctx, `PRAGMA max_page_count = 1073741823`); err != nil {
		t.Fatal(err)
	}
	notify(t, d, "h0", 1000)
	if since, err := d.WriteFailure(); err != nil || !since.IsZero() {
		t.Errorf("after a successful write: %v %v", since, err)
	}
	if n, err := d.Notification(ctx, before.UUID); err != nil || n.Status != "new" {
		t.Errorf("the notification stored before: %+v %v", n, err)
	}
}
