package db

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/db/pgtest"
)

// TestMain runs the PostgreSQL tests on one throw-away cluster, removed at
// the end.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// nowVar is a clock that tells the time held in a test's variable, so that
// the test moves the database's time by assigning it. The database never
// sleeps.
func nowVar(t *time.Time) clock.Clock { return varClock{t} }

type varClock struct{ t *time.Time }

func (c varClock) Now() time.Time { return *c.t }

func (c varClock) Sleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

// eachDialect runs a test against SQLite and PostgreSQL: daemons is how
// many DBs to open on the one database (SQLite serves one daemon).
func eachDialect(t *testing.T, daemons int, fn func(t *testing.T, ds []*DB)) {
	t.Run("sqlite", func(t *testing.T) {
		d, _ := openTest(t)
		fn(t, []*DB{d})
	})
	t.Run("postgresql", func(t *testing.T) {
		url := pgtest.Database(t)
		var ds []*DB
		for range daemons {
			d, err := Open(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			ds = append(ds, d)
		}
		fn(t, ds)
	})
}

// each runs a test against every dialect with one daemon.
func each(t *testing.T, fn func(t *testing.T, d *DB)) {
	eachDialect(t, 1, func(t *testing.T, ds []*DB) { fn(t, ds[0]) })
}

func openTest(t *testing.T) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "k.db")
	d, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, path
}

// seed makes a segment with hosts h0..h(n-1).
func seed(t *testing.T, d *DB, hosts int) Segment {
	t.Helper()
	ctx := context.Background()
	s, err := d.CreateSegment(ctx, Segment{Name: "seg", RecoveryMethod: "auto", ServiceType: "COMPUTE", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < hosts; i++ {
		if _, err := d.CreateHost(ctx, s.UUID, Host{Name: fmt.Sprintf("h%d", i), Type: "COMPUTE", ControlAttributes: "SSH"}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func notify(t *testing.T, d *DB, host string, i int) Notification {
	t.Helper()
	n, err := d.CreateNotification(context.Background(), NewNotification{Type: "VM", Hostname: host,
		GeneratedTime: time.Now().UTC(), Payload: json.RawMessage(fmt.Sprintf(`{"event":"LIFECYCLE","n":"%d"}`, i))}, 180*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMigrationsAndSingleDaemonLock(t *testing.T) {
	d, path := openTest(t)
	seed(t, d, 1)
	if _, err := OpenSQLite(context.Background(), path); err == nil {
		t.Fatal("a second daemon opened the same SQLite database")
	}
	d.Close()
	d2, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatalf("reopen (migrations already applied): %v", err)
	}
	defer d2.Close()
	if segs, err := d2.Segments(context.Background(), SegmentFilter{}, Page{}); err != nil || len(segs) != 1 {
		t.Fatalf("data lost across reopen: %v %v", segs, err)
	}
}

// Concurrent claimers never take one notification twice, and notifications
// of one host are never running at the same time.
func TestClaimIsExclusive(t *testing.T) {
	eachDialect(t, 3, testClaimIsExclusive)
}

func testClaimIsExclusive(t *testing.T, ds []*DB) {
	d := ds[0]
	seed(t, d, 5)
	const per = 8
	for i := 0; i < 5*per; i++ {
		notify(t, d, fmt.Sprintf("h%d", i%5), i)
	}
	ctx := context.Background()
	var mu sync.Mutex
	seen := map[string]string{}
	runningHost := map[string]bool{}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			owner := fmt.Sprintf("w%d", w)
			d := ds[w%len(ds)] // workers of several daemons
			for {
				n, ok, err := d.Claim(ctx, owner, time.Now().Add(time.Minute))
				if err != nil {
					errs <- err
					return
				}
				if !ok {
					mu.Lock()
					left := len(seen) < 5*per
					mu.Unlock()
					if !left {
						return
					}
					time.Sleep(time.Millisecond)
					continue
				}
				mu.Lock()
				if prev, dup := seen[n.UUID]; dup {
					errs <- fmt.Errorf("%s claimed by %s and %s", n.UUID, prev, owner)
				}
				seen[n.UUID] = owner
				if runningHost[n.SourceHostUUID] {
					errs <- fmt.Errorf("two notifications of host %s running at once", n.SourceHostUUID)
				}
				runningHost[n.SourceHostUUID] = true
				mu.Unlock()
				time.Sleep(200 * time.Microsecond)
				mu.Lock()
				runningHost[n.SourceHostUUID] = false
				mu.Unlock()
				if ok, err := d.Finish(ctx, n.UUID, owner, "finished", nil); err != nil || !ok {
					errs <- fmt.Errorf("finish %s: %v %v", n.UUID, ok, err)
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(seen) != 5*per {
		t.Errorf("claimed %d of %d", len(seen), 5*per)
	}
}

func TestLeaseExpiryResumes(t *testing.T) { each(t, testLeaseExpiryResumes) }

func testLeaseExpiryResumes(t *testing.T, d *DB) {
	seed(t, d, 1)
	ctx := context.Background()
	n := notify(t, d, "h0", 1)
	now := time.Now()
	d.Clock = nowVar(&now)
	c, ok, err := d.Claim(ctx, "a", now.Add(time.Minute))
	if err != nil || !ok || c.UUID != n.UUID || c.Resumed {
		t.Fatalf("first claim: %+v %v %v", c, ok, err)
	}
	if _, ok, _ := d.Claim(ctx, "b", now.Add(time.Minute)); ok {
		t.Fatal("claimed a notification under a live lease")
	}
	if err := d.SaveTaskAndStore(ctx, n.UUID, "a", "instance", "stop_instance_task", []byte(`{"name":"stop_instance_task","state":"SUCCESS"}`), []byte(`{"instance_uuid":"x"}`)); err != nil {
		t.Fatal(err)
	}
	if err := d.SaveTask(ctx, n.UUID, "a", "instance", "start_instance_task", []byte(`{"name":"start_instance_task","state":"RUNNING"}`)); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute) // a's lease ran out: a died
	c, ok, err = d.Claim(ctx, "b", now.Add(time.Minute))
	if err != nil || !ok || c.UUID != n.UUID || !c.Resumed {
		t.Fatalf("claim after expiry: %+v %v %v", c, ok, err)
	}
	if ok, _ := d.Finish(ctx, n.UUID, "a", "finished", nil); ok {
		t.Fatal("the old owner stored a final status after losing the lease")
	}
	if ok, _ := d.RenewLease(ctx, n.UUID, "a", now.Add(time.Hour)); ok {
		t.Fatal("the old owner renewed a lease it lost")
	}
	if err := d.SaveTask(ctx, n.UUID, "a", "instance", "start_instance_task", []byte(`{"name":"start_instance_task","state":"REVERTED"}`)); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("the old owner wrote progress after losing the lease: %v", err)
	}
	if err := d.SaveStore(ctx, n.UUID, "a", "instance", []byte(`{"instance_uuid":"old"}`)); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("the old owner wrote a store after losing the lease: %v", err)
	}
	runs, err := d.FlowRuns(ctx, n.UUID)
	if err != nil || len(runs) != 1 || len(runs[0].Records) != 2 || string(runs[0].Store) != `{"instance_uuid":"x"}` {
		t.Fatalf("flow runs: %+v %v", runs, err)
	}
	// The store alone (the reserved-host flow moving on to its next host).
	if err := d.SaveStore(ctx, n.UUID, "b", "instance", []byte(`{"instance_uuid":"y"}`)); err != nil {
		t.Fatal(err)
	}
	if runs, err := d.FlowRuns(ctx, n.UUID); err != nil || len(runs) != 1 || len(runs[0].Records) != 2 || string(runs[0].Store) != `{"instance_uuid":"y"}` {
		t.Fatalf("flow runs after SaveStore: %+v %v", runs, err)
	}
	if ok, err := d.Finish(ctx, n.UUID, "b", "finished", nil); err != nil || !ok {
		t.Fatal(ok, err)
	}
}

func TestNotificationChecks(t *testing.T) { each(t, testNotificationChecks) }

func testNotificationChecks(t *testing.T, d *DB) {
	seed(t, d, 2)
	ctx := context.Background()
	gen := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	nn := NewNotification{Type: "PROCESS", Hostname: "h0", GeneratedTime: gen, Payload: json.RawMessage(`{"event":"STOPPED","process_name":"nova-compute"}`)}
	if _, err := d.CreateNotification(ctx, nn, 180*time.Second); err != nil {
		t.Fatal(err)
	}
	// Same payload, keys in another order: a duplicate.
	nn2 := nn
	nn2.Payload = json.RawMessage(`{"process_name":"nova-compute","event":"STOPPED"}`)
	nn2.GeneratedTime = gen.Add(179 * time.Second)
	if _, err := d.CreateNotification(ctx, nn2, 180*time.Second); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("duplicate: %v", err)
	}
	nn2.GeneratedTime = gen.Add(181 * time.Second)
	if _, err := d.CreateNotification(ctx, nn2, 180*time.Second); err != nil {
		t.Fatalf("outside the window: %v", err)
	}
	nn.Hostname = "nope"
	if _, err := d.CreateNotification(ctx, nn, 180*time.Second); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown host: %v", err)
	}
	if err := d.SetMaintenance(ctx, "h1", true); err != nil {
		t.Fatal(err)
	}
	nn.Hostname = "h1"
	if _, err := d.CreateNotification(ctx, nn, 180*time.Second); !errors.Is(err, ErrOnMaintenance) {
		t.Fatalf("maintenance: %v", err)
	}
}

func TestReservedHostsOrder(t *testing.T) { each(t, testReservedHostsOrder) }

func testReservedHostsOrder(t *testing.T, d *DB) {
	ctx := context.Background()
	s := seed(t, d, 0)
	for i, spec := range []struct {
		name           string
		reserved, main bool
	}{{"a", true, false}, {"b", true, true}, {"c", false, false}, {"d", true, false}} {
		_ = i
		if _, err := d.CreateHost(ctx, s.UUID, Host{Name: spec.name, Type: "COMPUTE", ControlAttributes: "SSH", Reserved: spec.reserved, OnMaintenance: spec.main}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := d.ReservedHosts(ctx, "c")
	if err != nil || fmt.Sprint(got) != "[d a]" {
		t.Fatalf("reserved hosts: %v %v (want created_at desc, id desc, without maintenance)", got, err)
	}
}

func TestPagingWithMarker(t *testing.T) { each(t, testPagingWithMarker) }

func testPagingWithMarker(t *testing.T, d *DB) {
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		if _, err := d.CreateSegment(ctx, Segment{Name: fmt.Sprintf("s%d", i), RecoveryMethod: "auto", ServiceType: "COMPUTE", Enabled: true}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	var marker int64
	for {
		page, err := d.Segments(ctx, SegmentFilter{}, Page{Limit: 2, Marker: marker})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, s := range page {
			names = append(names, s.Name)
		}
		marker = page[len(page)-1].ID
	}
	if fmt.Sprint(names) != "[s4 s3 s2 s1 s0]" {
		t.Fatalf("pages: %v", names)
	}
	if _, err := d.Segments(ctx, SegmentFilter{}, Page{Marker: 99}); !errors.Is(err, ErrMarkerNotFound) {
		t.Fatalf("unknown marker: %v", err)
	}
}

// An empty database file is refused, not taken for a new database: lost
// history must not look like a fresh install. A missing file is created.
func TestEmptyDatabaseFileIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := OpenSQLite(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), path+" is an empty file") || !strings.Contains(err.Error(), "delete it to start with an empty database") {
		t.Fatalf("error %v", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	d, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatalf("a deleted file is a new database: %v", err)
	}
	d.Close()
}

func TestNotificationCounts(t *testing.T) { each(t, testNotificationCounts) }

func testNotificationCounts(t *testing.T, d *DB) {
	seed(t, d, 1)
	ctx := context.Background()
	if got, err := d.NotificationCounts(ctx); err != nil || len(got) != 0 {
		t.Fatalf("empty database: %v %v", got, err)
	}
	a, b := notify(t, d, "h0", 1), notify(t, d, "h0", 2)
	notify(t, d, "h0", 3)
	if _, err := d.SetStatus(ctx, a.UUID, "error", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := d.SetStatus(ctx, b.UUID, "error", nil); err != nil {
		t.Fatal(err)
	}
	got, err := d.NotificationCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []NotificationCount{{Type: "VM", Status: "error", N: 2}, {Type: "VM", Status: "new", N: 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("NotificationCounts = %v, want %v", got, want)
	}
}
