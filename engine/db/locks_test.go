package db

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/db/pgtest"
)

// claimed creates and claims a notification of host for owner.
func claimed(t *testing.T, d *DB, host, owner string, i int, now time.Time) Notification {
	t.Helper()
	n := notify(t, d, host, i)
	c, ok, err := d.Claim(context.Background(), owner, now.Add(time.Minute))
	if err != nil || !ok || c.UUID != n.UUID {
		t.Fatalf("claim %s: %+v %v %v", host, c, ok, err)
	}
	return c
}

func TestReservedHostClaims(t *testing.T) {
	eachDialect(t, 2, func(t *testing.T, ds []*DB) {
		a, b := ds[0], ds[len(ds)-1]
		seed(t, a, 3)
		now := time.Now()
		for _, d := range ds {
			d.Clock = nowVar(&now)
		}
		ctx := context.Background()
		n0 := claimed(t, a, "h0", "A", 0, now)
		n1 := claimed(t, b, "h1", "B", 1, now)
		ca, cb := &ReservedHostClaims{DB: a, Owner: "A"}, &ReservedHostClaims{DB: b, Owner: "B"}

		if _, err := (&ReservedHostClaims{DB: a}).ClaimReservedHost(ctx, n0.UUID, "x"); err == nil {
			t.Fatal("a claim without the daemon it runs under")
		}
		if _, err := ca.ClaimReservedHost(ctx, "", "x"); err == nil {
			t.Fatal("a claim without a notification")
		}
		release, err := ca.ClaimReservedHost(ctx, n0.UUID, "x")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cb.ClaimReservedHost(ctx, n1.UUID, "x"); !errors.Is(err, engine.ErrLockHeld) {
			t.Fatalf("second holder: %v", err)
		}
		if h, held, err := b.ReservedHostHolder(ctx, "x"); err != nil || !held || h != n0.UUID {
			t.Fatalf("holder: %s %v %v", h, held, err)
		}
		release()
		releaseB, err := cb.ClaimReservedHost(ctx, n1.UUID, "x")
		if err != nil {
			t.Fatalf("after release: %v", err)
		}
		// B's engine dies: its notification, resumed by A once the lease
		// ran out, claims the host again at once; others still may not.
		now = now.Add(2 * time.Minute)
		if ok, err := a.RenewLease(ctx, n0.UUID, "A", now.Add(time.Minute)); err != nil || !ok {
			t.Fatal(ok, err)
		}
		c, ok, err := a.Claim(ctx, "A", now.Add(time.Minute))
		if err != nil || !ok || c.UUID != n1.UUID || !c.Resumed {
			t.Fatalf("resume: %+v %v %v", c, ok, err)
		}
		releaseA1, err := ca.ClaimReservedHost(ctx, n1.UUID, "x")
		if err != nil {
			t.Fatalf("the resumed holder: %v", err)
		}
		if _, err := ca.ClaimReservedHost(ctx, n0.UUID, "x"); !errors.Is(err, engine.ErrLockHeld) {
			t.Fatalf("another holder while the resumed one holds it: %v", err)
		}
		releaseB() // the dead owner's late release changes nothing
		if _, held, _ := a.ReservedHostHolder(ctx, "x"); !held {
			t.Fatal("a stale release freed the new owner's claim")
		}
		releaseA1()
		// A claim whose holder's engine died without releasing it is free
		// once the lease has run out.
		if _, err := ca.ClaimReservedHost(ctx, n0.UUID, "x"); err != nil {
			t.Fatal(err)
		}
		now = now.Add(2 * time.Minute)
		if _, err := cb.ClaimReservedHost(ctx, n1.UUID, "x"); err != nil {
			t.Fatalf("claim of a dead engine's notification: %v", err)
		}
	})
}

// A reserved host is refused once another failed host took it (it is no
// longer reserved), except to that notification.
func TestReservedHostClaimsRefuseAHostNoLongerReserved(t *testing.T) {
	each(t, func(t *testing.T, d *DB) {
		s := seed(t, d, 2)
		ctx := context.Background()
		for _, r := range []string{"r1", "r2"} {
			if _, err := d.CreateHost(ctx, s.UUID, Host{Name: r, Type: "COMPUTE", ControlAttributes: "SSH", Reserved: true}); err != nil {
				t.Fatal(err)
			}
		}
		now := time.Now()
		n0 := claimed(t, d, "h0", "A", 0, now)
		n1 := claimed(t, d, "h1", "A", 1, now)
		c := &ReservedHostClaims{DB: d, Owner: "A"}
		release, err := c.ClaimReservedHost(ctx, n0.UUID, "r1")
		if err != nil {
			t.Fatal(err)
		}
		if err := d.SetReserved(ctx, "r1", false); err != nil {
			t.Fatal(err)
		}
		release()
		if _, err := c.ClaimReservedHost(ctx, n1.UUID, "r1"); !errors.Is(err, engine.ErrLockHeld) {
			t.Fatalf("a used reserved host handed to a second failed host: %v", err)
		}
		if _, err := c.ClaimReservedHost(ctx, n0.UUID, "r1"); err != nil {
			t.Fatalf("the notification that took the host, resumed: %v", err)
		}
		// Another reserved host is free, and a host that is not reserved
		// was never one to hand out.
		if _, err := c.ClaimReservedHost(ctx, n1.UUID, "r2"); err != nil {
			t.Fatalf("another reserved host: %v", err)
		}
		if _, err := c.ClaimReservedHost(ctx, n1.UUID, "h1"); !errors.Is(err, engine.ErrLockHeld) {
			t.Fatalf("a host that is not reserved: %v", err)
		}
	})
}

// Many holders racing for one reserved host from several daemons: one at a
// time.
func TestReservedHostClaimsRace(t *testing.T) {
	eachDialect(t, 3, func(t *testing.T, ds []*DB) {
		seed(t, ds[0], 12)
		now := time.Now()
		var ns []Notification
		for i := range 12 {
			ns = append(ns, claimed(t, ds[0], fmt.Sprintf("h%d", i), "A", i, now))
		}
		var inside, max atomic.Int32
		var wg sync.WaitGroup
		for i, n := range ns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := &ReservedHostClaims{DB: ds[i%len(ds)], Owner: "A"}
				for range 20 {
					release, err := c.ClaimReservedHost(context.Background(), n.UUID, "one")
					if errors.Is(err, engine.ErrLockHeld) {
						time.Sleep(time.Millisecond)
						continue
					}
					if err != nil {
						t.Error(err)
						return
					}
					if v := inside.Add(1); v > max.Load() {
						max.Store(v)
					}
					time.Sleep(time.Millisecond)
					inside.Add(-1)
					release()
				}
			}()
		}
		wg.Wait()
		if max.Load() != 1 {
			t.Fatalf("%d holders at once", max.Load())
		}
	})
}

func itoa(i int) string { return string(rune('0'+i/10)) + string(rune('0'+i%10)) }

func TestTryPeriodicElectsOne(t *testing.T) {
	eachDialect(t, 3, func(t *testing.T, ds []*DB) {
		now := time.Now()
		for _, d := range ds {
			d.Clock = nowVar(&now)
		}
		ctx := context.Background()
		count := func() int {
			won := 0
			for i, d := range ds {
				ok, err := d.TryPeriodic(ctx, "check_expired_notifications", "e"+itoa(i), time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					won++
				}
			}
			return won
		}
		if n := count(); n != 1 {
			t.Fatalf("first period: %d runners", n)
		}
		now = now.Add(30 * time.Second)
		if n := count(); n != 0 {
			t.Fatalf("within the period: %d runners", n)
		}
		now = now.Add(30 * time.Second)
		if n := count(); n != 1 {
			t.Fatalf("next period: %d runners", n)
		}
	})
}

// The periodic retry of an error notification is taken by one daemon only,
// and not while another notification of its host runs.
func TestClaimRetry(t *testing.T) {
	eachDialect(t, 2, func(t *testing.T, ds []*DB) {
		d := ds[0]
		seed(t, d, 1)
		ctx := context.Background()
		now := time.Now()
		n := claimed(t, d, "h0", "A", 0, now)
		if ok, err := d.Finish(ctx, n.UUID, "A", "error", nil); err != nil || !ok {
			t.Fatal(ok, err)
		}
		other := claimed(t, d, "h0", "A", 1, now)
		if _, ok, err := d.ClaimRetry(ctx, n.UUID, "B", now.Add(time.Minute)); err != nil || ok {
			t.Fatalf("retry while the host runs another: %v %v", ok, err)
		}
		if ok, err := d.Finish(ctx, other.UUID, "A", "finished", nil); err != nil || !ok {
			t.Fatal(ok, err)
		}
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, ok, err := ds[i%len(ds)].ClaimRetry(ctx, n.UUID, "e"+itoa(i), now.Add(time.Minute))
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d daemons took the retry", wins.Load())
		}
		got, _ := d.Notification(ctx, n.UUID)
		if got.Status != "running" || !got.Retry {
			t.Fatalf("after the retry claim: %+v", got)
		}
	})
}

// Daemons starting together on an empty database migrate it once.
func TestPostgresConcurrentOpen(t *testing.T) {
	url := pgtest.Database(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := Open(context.Background(), url)
			if err == nil {
				d.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	d, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var n int
	files, _ := fs.Glob(migrations, "migrations/*.sql")
	if err := d.r.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(files) || n < 5 {
		t.Fatalf("migrations recorded: %d of %d %v", n, len(files), err)
	}
	if d.Dialect().SingleNode {
		t.Fatal("PostgreSQL is shared by several daemons")
	}
	if _, err := d.ReleaseAll(context.Background()); err == nil {
		t.Fatal("ReleaseAll on a shared database")
	}
}

func TestOpenErrorsHidePassword(t *testing.T) {
	_, err := Open(context.Background(), "postgresql://kaifuku:s3cret@127.0.0.1:1/kaifuku?sslmode=disable&connect_timeout=2")
	if err == nil {
		t.Fatal("connected to nothing")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("password in the error: %v", err)
	}
}

// A daemon holding a host's claim lock (in the middle of a claim or a retry
// of one of its notifications) keeps every other daemon off that host, not
// off the others.
func TestPostgresHostClaimLock(t *testing.T) {
	url := pgtest.Database(t)
	ctx := context.Background()
	var ds []*DB
	for range 2 {
		d, err := Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		ds = append(ds, d)
	}
	seed(t, ds[0], 2)
	n0 := notify(t, ds[0], "h0", 0)
	n1 := notify(t, ds[0], "h1", 1)
	tx, err := ds[0].w.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if ok, err := ds[0].lockHost(ctx, tx, n0.SourceHostUUID); err != nil || !ok {
		t.Fatalf("lock host: %v %v", ok, err)
	}
	c, ok, err := ds[1].Claim(ctx, "B", time.Now().Add(time.Minute))
	if err != nil || !ok || c.UUID != n1.UUID {
		t.Fatalf("claim beside a locked host: %+v %v %v", c, ok, err)
	}
	if c, ok, err := ds[1].Claim(ctx, "B", time.Now().Add(time.Minute)); err != nil || ok {
		t.Fatalf("claimed %s of a host another daemon is claiming: %v", c.UUID, err)
	}
	tx.Rollback()
	if c, ok, err := ds[1].Claim(ctx, "B", time.Now().Add(time.Minute)); err != nil || !ok || c.UUID != n0.UUID {
		t.Fatalf("claim after the lock ended: %+v %v %v", c, ok, err)
	}
}
