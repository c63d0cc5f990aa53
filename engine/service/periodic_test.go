package service

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/db"
	"github.com/kaifuku-ha/kaifuku/engine/db/pgtest"
	"github.com/kaifuku-ha/kaifuku/engine/recovery"
)

// onBothDatabases runs fn on a fresh SQLite file and on a fresh PostgreSQL
// database (skipped without the PostgreSQL binaries, outside CI, and under
// -short: a PostgreSQL database takes a second or more to create and
// migrate, and the service's logic is the same on both; the full run and
// CI run both halves).
func onBothDatabases(t *testing.T, fn func(t *testing.T, d *db.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		d, err := db.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "svc.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		fn(t, d)
	})
	t.Run("postgres", func(t *testing.T) {
		if testing.Short() {
			t.Skip("the PostgreSQL half runs without -short")
		}
		d, err := db.Open(context.Background(), pgtest.Database(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		fn(t, d)
	})
}

// entry is one log line with its notification_uuid field.
type entry struct {
	msg, uuid string
}

// entries records every log line with its notification uuid.
type entries struct {
	mu  sync.Mutex
	all []entry
}

func (h *entries) Levels() []logrus.Level { return logrus.AllLevels }

func (h *entries) Fire(e *logrus.Entry) error {
	id, _ := e.Data["notification_uuid"].(string)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.all = append(h.all, entry{msg: e.Message, uuid: id})
	return nil
}

// count is how many lines contain s and, when id is set, carry that
// notification uuid.
func (h *entries) count(s, id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, e := range h.all {
		if strings.Contains(e.msg, s) && (id == "" || e.uuid == id) {
			n++
		}
	}
	return n
}

func quietLog() (*logrus.Logger, *entries) {
	log := logrus.New()
	log.SetOutput(io.Discard)
	log.SetLevel(logrus.DebugLevel)
	h := &entries{}
	log.AddHook(h)
	return log, h
}

// counting is the database with the engine's claims and periodic
// elections counted.
type counting struct {
	*db.DB
	claims   atomic.Int32 // Claim calls that returned
	mu       sync.Mutex
	periodic map[string][]periodicCall
}

type periodicCall struct {
	at    time.Time
	every time.Duration
	won   bool
}

func (c *counting) Claim(ctx context.Context, owner string, leaseUntil time.Time) (db.Notification, bool, error) {
	n, ok, err := c.DB.Claim(ctx, owner, leaseUntil)
	c.claims.Add(1)
	return n, ok, err
}

func (c *counting) TryPeriodic(ctx context.Context, name, owner string, every time.Duration) (bool, error) {
	at := c.DB.Clock.Now()
	ok, err := c.DB.TryPeriodic(ctx, name, owner, every)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.periodic == nil {
		c.periodic = map[string][]periodicCall{}
	}
	c.periodic[name] = append(c.periodic[name], periodicCall{at: at, every: every, won: ok && err == nil})
	return ok, err
}

// runs are the periodic task's elections so far.
func (c *counting) runs(name string) []periodicCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]periodicCall(nil), c.periodic[name]...)
}

// serviceOn builds a service over store with the rig's flows, on the rig's
// clock.
func (r *rig) serviceOn(store Store, log *logrus.Logger, opts Options) *Service {
	svc := New(store, log)
	svc.Clock = r.clk
	runner := &engine.Runner{Clock: clock.Real{}, Log: log, Listener: svc.Listener(), Drain: svc.Drain()}
	mgr := &recovery.Manager{Runner: runner, Flows: r.flows, Claims: engine.NewLocalClaims()}
	svc.SetEngine(&Engine{Manager: mgr, Options: opts})
	return svc
}

// notifyAt stores a VM notification generated at gen, with created_at
// taken from the database clock at created (zero: now). Each has its own
// instance so that none is a duplicate of another.
func (r *rig) notifyAt(gen, created time.Time) string {
	r.t.Helper()
	if !created.IsZero() {
		r.db.Clock = clock.NewFake(created)
		defer func() { r.db.Clock = r.clk }()
	}
	payload := fmt.Sprintf(`{"event":"LIFECYCLE","instance_uuid":%q,"vir_domain_event":"STOPPED_FAILED"}`, uuid.NewString())
	n, err := r.db.CreateNotification(context.Background(), db.NewNotification{Type: "VM", Hostname: "h1", GeneratedTime: gen.UTC(),
		Payload: json.RawMessage(payload)}, 0)
	if err != nil {
		r.t.Fatal(err)
	}
	return n.UUID
}

func (r *rig) status(id string) db.Notification {
	r.t.Helper()
	n, err := r.db.Notification(context.Background(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	return n
}

// _check_expired_notifications: new, running and error notifications whose
// generated_time is older than notifications_expired_interval become
// failed, each with Masakari's log line; younger ones and finished, ignored
// and failed ones of any age are left alone. created_at plays no part.
func TestCheckExpired(t *testing.T) {
	for _, expire := range []time.Duration{0, 10 * time.Minute} {
		t.Run(fmt.Sprintf("notifications_expired_interval=%s", expire), func(t *testing.T) {
			onBothDatabases(t, func(t *testing.T, d *db.DB) {
				testCheckExpired(t, d, expire)
			})
		})
	}
}

func testCheckExpired(t *testing.T, d *db.DB, expire time.Duration) {
	ctx := context.Background()
	r := newRigOn(t, d, false, nil, true)
	log, hook := quietLog()
	svc := r.serviceOn(r.db, log, Options{ExpireAfter: expire})
	age := svc.engine.Load().Options.ExpireAfter // the default when zero
	if expire == 0 && age != 24*time.Hour {
		t.Fatalf("default notifications_expired_interval %s, want 24h", age)
	}
	now := r.clk.Now()
	cases := []struct {
		name    string
		status  string
		gen     time.Duration // age of generated_time
		created time.Duration // age of created_at (0: now)
		want    string
	}{
		{"new, old", "new", age + time.Minute, 0, "failed"},
		{"running, old", "running", age + time.Minute, 0, "failed"},
		{"error, old", "error", age + time.Minute, 0, "failed"},
		{"new, very old", "new", 30 * age, 0, "failed"},
		{"new, young", "new", age - time.Minute, 0, "new"},
		{"running, young", "running", age - time.Minute, 0, "running"},
		{"error, young", "error", age - time.Minute, 0, "error"},
		{"new, generated now", "new", 0, 0, "new"},
		{"new, young but created long ago", "new", time.Minute, 3 * age, "new"},
		{"error, young but created long ago", "error", time.Minute, 3 * age, "error"},
		{"running, young but created long ago", "running", time.Minute, 3 * age, "running"},
		{"finished, old", "finished", age + time.Minute, 0, "finished"},
		{"ignored, old", "ignored", 10 * age, 0, "ignored"},
		{"failed, old", "failed", 10 * age, 0, "failed"},
		{"finished, young", "finished", time.Minute, 0, "finished"},
	}
	ids := make([]string, len(cases))
	for i, c := range cases {
		var created time.Time
		if c.created > 0 {
			created = now.Add(-c.created)
		}
		ids[i] = r.notifyAt(now.Add(-c.gen), created)
		if c.status != "new" {
			if ok, err := r.db.SetStatus(ctx, ids[i], c.status, nil); err != nil || !ok {
				t.Fatalf("%s: set status %s: %v %v", c.name, c.status, ok, err)
			}
		}
		if c.created > 0 {
			if n := r.status(ids[i]); now.Sub(n.CreatedAt) < c.created-time.Second {
				t.Fatalf("%s: created_at %s is not %s old", c.name, n.CreatedAt, c.created)
			}
		}
	}

	for pass := 1; pass <= 2; pass++ {
		svc.checkExpired(ctx)
		for i, c := range cases {
			n := r.status(ids[i])
			if n.Status != c.want {
				t.Errorf("pass %d, %s: status %s, want %s", pass, c.name, n.Status, c.want)
			}
			wantLogs := 0
			if c.want == "failed" && c.status != "failed" {
				wantLogs = 1 // once: the second pass leaves a failed one alone
			}
			line := fmt.Sprintf("Periodic task 'check_expired_notifications': Notification %s is expired.", ids[i])
			if got := hook.count(line, ids[i]); got != wantLogs {
				t.Errorf("pass %d, %s: %d expiry log lines with its notification_uuid, want %d", pass, c.name, got, wantLogs)
			}
		}
	}
	if r.first.Load() != 0 {
		t.Errorf("the expiry ran a flow %d times", r.first.Load())
	}
}

// _process_unfinished_notifications picks up a new notification that no
// worker took once its generated_time is older than
// retry_notification_new_status_interval; a younger one is not touched by
// it. The workers here poll once an hour and nothing else wakes them, so
// only the periodic task can get a notification processed.
func TestStaleNewIsPickedUp(t *testing.T) {
	cases := []struct {
		name     string
		retryNew time.Duration // retry_notification_new_status_interval (0: 60 s)
		gen      time.Duration // age of generated_time
		picked   bool
	}{
		{"young, default interval", 0, 30 * time.Second, false},
		{"generated now", 0, 0, false},
		{"stale, default interval", 0, 90 * time.Second, true},
		{"hours old, default interval", 0, 5 * time.Hour, true},
		{"young for a longer interval", 10 * time.Minute, 5 * time.Minute, false},
		{"stale for a longer interval", 10 * time.Minute, 11 * time.Minute, true},
		{"stale for a shorter interval", 5 * time.Second, 30 * time.Second, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			onBothDatabases(t, func(t *testing.T, d *db.DB) {
				r := newRigOn(t, d, false, nil, true)
				store := &counting{DB: d}
				log, hook := quietLog()
				const every = 40 * time.Millisecond
				svc := r.serviceOn(store, log, Options{Workers: 1, Poll: time.Hour, RetryNewAfter: c.retryNew,
					ProcessUnfinishedEvery: every, CheckExpiredEvery: time.Hour})
				ctx, cancel := context.WithCancel(context.Background())
				defer func() { cancel(); svc.Wait() }()
				svc.Start(ctx)
				// The worker's first claim found nothing; it now sleeps.
				waitFor(t, "the worker's first claim", func() bool { return store.claims.Load() >= 1 })
				id := r.notifyAt(r.clk.Now().Add(-c.gen), time.Time{})
				won := func() int {
					n := 0
					for _, p := range store.runs("process_unfinished_notifications") {
						if p.won {
							n++
						}
					}
					return n
				}
				before := won()
				// The worker waits on its poll timer, the periodic tasks
				// on theirs.
				const idle = 3
				if c.picked {
					tick(t, r.clk, idle, every)
					r.waitStatus(id, "finished")
					if r.first.Load() != 1 || r.third.Load() != 1 {
						t.Errorf("the flow ran %d/%d times, want once", r.first.Load(), r.third.Load())
					}
					if hook.count("notification(s) in status new for more than", "") == 0 {
						t.Error("no log line from the periodic task about the stale notification")
					}
				} else {
					for i := 1; i <= 3; i++ {
						tick(t, r.clk, idle, every)
						waitFor(t, "another periodic run", func() bool { return won() >= before+i })
					}
					if n := r.status(id); n.Status != "new" || r.first.Load() != 0 {
						t.Errorf("status %s, flow ran %d times; want new and untouched", n.Status, r.first.Load())
					}
					if got := store.claims.Load(); got != 1 {
						t.Errorf("the workers claimed %d times, want once (at start): the periodic task woke them", got)
					}
					if hook.count("notification(s) in status new for more than", "") != 0 {
						t.Error("the periodic task reported a young notification as stale")
					}
				}
				if err := svc.Stop(ctx); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

// flaky fails its first failures runs and succeeds afterwards.
type flaky struct {
	runs     atomic.Int32
	failures int32
}

func (f *flaky) Execute(context.Context, *engine.Env, engine.Store) (engine.Store, error) {
	if f.runs.Add(1) <= f.failures {
		return nil, engine.Fail("task failed on purpose")
	}
	return engine.Store{}, nil
}

func (f *flaky) Revert(context.Context, *engine.Env, engine.Store, error) error { return nil }

// An error notification is retried exactly once by the periodic task: a
// retry that succeeds ends finished (not failed), one that errs again ends
// failed with Masakari's log line; later passes change nothing.
func TestErrorRetryOutcomes(t *testing.T) {
	cases := []struct {
		name      string
		failures  int32  // runs of the second task that fail
		first     string // status after the workers' run
		final     string // status after the periodic pass
		runs      int32  // runs of the flow in all
		retries   int    // "retrying" log lines
		failedLog int    // periodic "exits with status: failed" log lines
	}{
		{"succeeds at once", 0, "finished", "finished", 1, 0, 0},
		{"retry succeeds", 1, "error", "finished", 2, 1, 0},
		{"retry errs again", 2, "error", "failed", 2, 1, 1},
		{"errs forever", 100, "error", "failed", 2, 1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			onBothDatabases(t, func(t *testing.T, d *db.DB) {
				r := newRigOn(t, d, false, nil, true)
				task := &flaky{failures: c.failures}
				r.flows[conf.FlowInstance].Phases[conf.Main][1].Task = task
				log, hook := quietLog()
				svc := r.serviceOn(d, log, Options{Workers: 2, Poll: 10 * time.Millisecond})
				ctx, cancel := context.WithCancel(context.Background())
				defer func() { cancel(); svc.Wait() }()
				svc.Start(ctx)
				id := r.notifyAt(r.clk.Now(), time.Time{})
				svc.Wake()
				if n := r.waitStatus(id, "finished", "error"); n.Status != c.first || n.Retry {
					t.Fatalf("after the first run: status %s retry %v, want %s and no retry", n.Status, n.Retry, c.first)
				}
				for pass := 1; pass <= 3; pass++ {
					svc.processUnfinished(ctx)
					n := r.status(id)
					if n.Status != c.final {
						t.Fatalf("after periodic pass %d: status %s, want %s", pass, n.Status, c.final)
					}
					if n.Retry != (c.retries > 0) {
						t.Errorf("after periodic pass %d: retry flag %v", pass, n.Retry)
					}
				}
				if got := r.first.Load(); got != c.runs {
					t.Errorf("the flow ran %d times, want %d", got, c.runs)
				}
				if got := hook.count("retrying notification in status error", id); got != c.retries {
					t.Errorf("%d retries logged, want %d", got, c.retries)
				}
				line := fmt.Sprintf("Periodic task 'process_unfinished_notifications': Notification %s exits with status: failed.", id)
				if got := hook.count(line, id); got != c.failedLog {
					t.Errorf("%d periodic failed lines, want %d", got, c.failedLog)
				}
				if got := hook.count(fmt.Sprintf("Notification %s exits with status: %s.", id, c.final), id); got == 0 {
					t.Errorf("no final status line for %s", c.final)
				}
				if err := svc.Stop(ctx); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

// A notification in error whose retry already ran (the retry was
// interrupted, resumed elsewhere and erred) is failed by the next pass
// without running its flow a third time.
func TestErrorAfterRetryIsFailedWithoutRunning(t *testing.T) {
	onBothDatabases(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		r := newRigOn(t, d, false, nil, true)
		log, hook := quietLog()
		svc := r.serviceOn(d, log, Options{})
		id := r.notifyAt(r.clk.Now(), time.Time{})
		if ok, err := d.SetStatus(ctx, id, "error", nil); err != nil || !ok {
			t.Fatal(ok, err)
		}
		if _, ok, err := d.ClaimRetry(ctx, id, "another-engine", r.clk.Now().Add(time.Minute)); err != nil || !ok {
			t.Fatalf("claim the retry: %v %v", ok, err)
		}
		msg := "retry failed"
		if ok, err := d.Finish(ctx, id, "another-engine", "error", &msg); err != nil || !ok {
			t.Fatalf("finish the retry: %v %v", ok, err)
		}
		svc.processUnfinished(ctx)
		n := r.status(id)
		if n.Status != "failed" || r.first.Load() != 0 {
			t.Errorf("status %s, flow ran %d times; want failed without a run", n.Status, r.first.Load())
		}
		if n.Message == nil || *n.Message != msg {
			t.Errorf("message %v, want the retry's message kept", n.Message)
		}
		line := fmt.Sprintf("Periodic task 'process_unfinished_notifications': Notification %s exits with status: failed.", id)
		if hook.count(line, id) != 1 {
			t.Error("no periodic failed log line")
		}
	})
}

// The periodic tasks are elected at their configured intervals (never
// sooner than a period apart), with the configured period, and stop when
// the context ends or the service drains.
func TestPeriodicIntervalsAndStop(t *testing.T) {
	for _, how := range []string{"cancel", "stop"} {
		t.Run(how, func(t *testing.T) {
			r := newRig(t, false, nil, true)
			store := &counting{DB: r.db}
			log, _ := quietLog()
			const unfinished, expired = 30 * time.Millisecond, 90 * time.Millisecond
			svc := r.serviceOn(store, log, Options{Workers: 1, Poll: time.Hour,
				ProcessUnfinishedEvery: unfinished, CheckExpiredEvery: expired})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			start := r.clk.Now()
			svc.Start(ctx)
			// The worker waits on its poll timer, the periodic tasks on
			// theirs; the clock moves in steps of the shorter period.
			const idle = 3
			for len(store.runs("check_expired_notifications")) < 4 {
				if r.clk.Now().Sub(start) > 10*expired {
					t.Fatalf("%d check_expired_notifications runs after %s", len(store.runs("check_expired_notifications")), r.clk.Now().Sub(start))
				}
				tick(t, r.clk, idle, unfinished)
			}
			switch how {
			case "cancel":
				cancel()
				done := make(chan struct{})
				go func() { svc.Wait(); close(done) }()
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					t.Fatal("the service did not return after its context ended")
				}
			case "stop":
				stopCtx, stopCancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer stopCancel()
				if err := svc.Stop(stopCtx); err != nil {
					t.Fatal(err)
				}
			}
			elapsed := r.clk.Now().Sub(start)
			if n := r.clk.Pending(); n != 0 {
				t.Errorf("%d timers left pending by the stopped service", n)
			}
			for _, p := range []struct {
				name  string
				every time.Duration
			}{{"process_unfinished_notifications", unfinished}, {"check_expired_notifications", expired}} {
				runs := store.runs(p.name)
				if max := int(elapsed / p.every); len(runs) > max || len(runs) == 0 {
					t.Errorf("%s: %d runs in %s, want 1 to %d", p.name, len(runs), elapsed, max)
				}
				prev := start
				for i, run := range runs {
					if gap := run.at.Sub(prev); gap < p.every-time.Millisecond {
						t.Errorf("%s run %d came %s after the previous one, want at least %s", p.name, i, gap, p.every)
					}
					if run.every != p.every {
						t.Errorf("%s run %d elected for a period of %s, want %s", p.name, i, run.every, p.every)
					}
					prev = run.at
				}
			}
			if n := len(store.runs("process_unfinished_notifications")); n < 4 {
				t.Errorf("process_unfinished_notifications ran %d times while check_expired_notifications ran 4", n)
			}
			// Stopped: no run after the service returned.
			after := len(store.runs("process_unfinished_notifications")) + len(store.runs("check_expired_notifications"))
			r.clk.Advance(3 * expired)
			if n := len(store.runs("process_unfinished_notifications")) + len(store.runs("check_expired_notifications")); n != after {
				t.Errorf("%d periodic runs after the service stopped", n-after)
			}
		})
	}
}

// The first run waits PeriodicFirstRunDelay, then each task keeps its
// period (here an hour: exactly one run of each).
func TestPeriodicFirstRunDelay(t *testing.T) {
	r := newRig(t, false, nil, true)
	store := &counting{DB: r.db}
	log, _ := quietLog()
	const delay = 20 * time.Millisecond
	svc := r.serviceOn(store, log, Options{Workers: 1, Poll: time.Hour, PeriodicFirstRunDelay: delay,
		ProcessUnfinishedEvery: time.Hour, CheckExpiredEvery: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); svc.Wait() }()
	start := r.clk.Now()
	svc.Start(ctx)
	// The worker waits on its poll timer, the periodic tasks on theirs.
	const idle = 3
	tick(t, r.clk, idle, delay-time.Millisecond)
	for _, name := range []string{"process_unfinished_notifications", "check_expired_notifications"} {
		if n := len(store.runs(name)); n != 0 {
			t.Errorf("%s ran %d times before the first-run delay", name, n)
		}
	}
	tick(t, r.clk, idle, time.Millisecond)
	for _, name := range []string{"process_unfinished_notifications", "check_expired_notifications"} {
		waitFor(t, name+" after the first-run delay", func() bool { return len(store.runs(name)) >= 1 })
	}
	tick(t, r.clk, idle, 10*delay)
	for _, name := range []string{"process_unfinished_notifications", "check_expired_notifications"} {
		runs := store.runs(name)
		if len(runs) != 1 || !runs[0].won || runs[0].at.Sub(start) < delay-time.Millisecond {
			t.Errorf("%s: %d runs, first after %s; want one after at least %s", name, len(runs), runs[0].at.Sub(start), delay)
		}
	}
}

// blockUntil waits (up to ten seconds) until the code under test has set
// at least n timers on clk.
func blockUntil(t *testing.T, clk *clock.Fake, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clk.BlockUntil(ctx, n); err != nil {
		t.Fatalf("timed out waiting for %d timers (%d set)", n, clk.Pending())
	}
}

// tick advances clk by d once the service waits on its idle timers (n of
// them), and waits until it does again: whatever fired has run.
func tick(t *testing.T, clk *clock.Fake, idle int, d time.Duration) {
	t.Helper()
	blockUntil(t, clk, idle)
	clk.Advance(d)
	blockUntil(t, clk, idle)
}

// advanceUntil advances clk by step, again and again, until cond holds:
// for goroutines whose timers are not all set at one time. It gives up
// after 200 steps.
func advanceUntil(t *testing.T, clk *clock.Fake, step time.Duration, what string, cond func() bool) {
	t.Helper()
	for i := 0; ; i++ {
		if i == 200 {
			t.Fatalf("timed out waiting for %s (%s of the clock)", what, time.Duration(i)*step)
		}
		clk.Advance(step)
		for wait := 0; wait < 10; wait++ {
			if cond() {
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
}

// waitFor polls cond for up to ten seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// A running notification that expires while a worker runs it becomes
// failed; the worker's next lease renewal finds it gone and stops the flow,
// and its final status does not overwrite failed.
func TestExpiryStopsARunInFlight(t *testing.T) {
	onBothDatabases(t, func(t *testing.T, d *db.DB) {
		release := make(chan struct{}) // never closed: the second task waits for its context
		r := newRigOn(t, d, false, release, true)
		log, hook := quietLog()
		const lease = 300 * time.Millisecond
		svc := r.serviceOn(d, log, Options{Workers: 1, Lease: lease, Poll: 10 * time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		defer func() { cancel(); svc.Wait() }()
		svc.Start(ctx)
		id := r.notifyAt(r.clk.Now().Add(-25*time.Hour), time.Time{})
		svc.Wake()
		waitFor(t, "the second task", func() bool { return r.last.Load() > 0 })
		svc.checkExpired(ctx)
		// The periodic tasks' timers and the lease renewal's ticker are
		// set; the next renewal is due.
		blockUntil(t, r.clk, 3)
		r.clk.Advance(lease / 3)
		waitFor(t, "the run to stop", func() bool { return hook.count("lease lost while running", id) > 0 })
		if err := svc.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		if n := r.status(id); n.Status != "failed" || r.third.Load() != 0 {
			t.Errorf("status %s, third task ran %d times; want failed and the flow stopped", n.Status, r.third.Load())
		}
		if hook.count("is expired.", id) != 1 {
			t.Error("no expiry log line")
		}
	})
}
