package service

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/kaifuku-ha/kaifuku/engine/db"
	"github.com/kaifuku-ha/kaifuku/engine/db/pgtest"
	"github.com/kaifuku-ha/kaifuku/engine/recovery"
)

// stepTask records progress and then does what its behaviour says.
type stepTask struct {
	runs    *atomic.Int32
	fail    bool
	release chan struct{} // when set, Execute waits for it
}

func (t *stepTask) Execute(ctx context.Context, env *engine.Env, in engine.Store) (engine.Store, error) {
	t.runs.Add(1)
	env.Progress("working", 0)
	if t.release != nil {
		select {
		case <-t.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if t.fail {
		return nil, engine.Fail("task failed on purpose")
	}
	env.Progress("done", 1)
	return engine.Store{}, nil
}

func (t *stepTask) Revert(context.Context, *engine.Env, engine.Store, error) error { return nil }

type rig struct {
	t     *testing.T
	clk   *clock.Fake // the service's and the database's clock
	db    *db.DB
	svc   *Service
	seg   db.Segment
	first *atomic.Int32
	last  *atomic.Int32
	third *atomic.Int32
	flows map[conf.FlowKind]*engine.Flow
}

// newRig: an instance flow of three tasks, the second of which fails or
// waits as asked.
func newRig(t *testing.T, fail bool, release chan struct{}, enabled bool) *rig {
	t.Helper()
	d, err := db.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "svc.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return newRigOn(t, d, fail, release, enabled)
}

// newRigOn is newRig on a given database; the database is set on the
// rig's fake clock.
func newRigOn(t *testing.T, d *db.DB, fail bool, release chan struct{}, enabled bool) *rig {
	t.Helper()
	ctx := context.Background()
	clk := clock.NewFake(time.Now().UTC())
	d.Clock = clk
	seg, err := d.CreateSegment(ctx, db.Segment{Name: "s", RecoveryMethod: "auto", ServiceType: "COMPUTE", Enabled: enabled})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateHost(ctx, seg.UUID, db.Host{Name: "h1", Type: "COMPUTE", ControlAttributes: "SSH"}); err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	first, last, third := &atomic.Int32{}, &atomic.Int32{}, &atomic.Int32{}
	flow := &engine.Flow{Kind: conf.FlowInstance}
	flow.Phases[conf.Main] = []engine.FlowTask{
		{Spec: engine.Spec{Name: "first", Atom: "FirstTask"}, Phase: conf.Main, Task: &stepTask{runs: first}},
		{Spec: engine.Spec{Name: "second", Atom: "SecondTask"}, Phase: conf.Main, Task: &stepTask{runs: last, fail: fail, release: release}},
		{Spec: engine.Spec{Name: "third", Atom: "ThirdTask"}, Phase: conf.Main, Task: &stepTask{runs: third}},
	}
	r := &rig{t: t, clk: clk, db: d, seg: seg, first: first, last: last, third: third,
		flows: map[conf.FlowKind]*engine.Flow{conf.FlowInstance: flow}}
	r.svc = r.newService(log, 2)
	return r
}

// newService builds a service over the rig's database and flows, on the
// rig's clock: its workers poll only when a test advances the clock, and
// its periodic tasks (at their default intervals) do not run unless a test
// advances it by minutes.
func (r *rig) newService(log *logrus.Logger, workers int) *Service {
	return r.serviceOn(r.db, log, Options{Workers: workers, Poll: 10 * time.Millisecond})
}

// notify stores a notification and wakes the rig's service, as the API
// does.
func (r *rig) notify() string {
	r.t.Helper()
	defer r.svc.Wake()
	n, err := r.db.CreateNotification(context.Background(), db.NewNotification{Type: "VM", Hostname: "h1", GeneratedTime: r.clk.Now().UTC(),
		Payload: json.RawMessage(`{"event":"LIFECYCLE","instance_uuid":"8d4c7f2e-0b1a-4e0e-9f3c-5d2a1b6c7e8f","vir_domain_event":"STOPPED_FAILED"}`)}, 0)
	if err != nil {
		r.t.Fatal(err)
	}
	return n.UUID
}

func (r *rig) waitStatus(id string, want ...string) db.Notification {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := r.db.Notification(context.Background(), id)
		if err != nil {
			r.t.Fatal(err)
		}
		for _, w := range want {
			if n.Status == w {
				return n
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("notification is %s, want %v", n.Status, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runOne starts the rig's service, sends a notification, waits for it to
// reach one of the statuses want and stops the service.
func (r *rig) runOne(want ...string) db.Notification {
	r.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r.svc.Start(ctx)
	n := r.waitStatus(r.notify(), want...)
	if err := r.svc.Stop(ctx); err != nil {
		r.t.Fatal(err)
	}
	return n
}

func TestErrorIsRetriedOnceThenFailed(t *testing.T) {
	r := newRig(t, true, nil, true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r.svc.Start(ctx)
	id := r.notify()
	r.waitStatus(id, "error")
	r.svc.processUnfinished(ctx)
	n := r.waitStatus(id, "failed")
	if r.first.Load() != 2 || r.last.Load() != 2 {
		t.Errorf("runs: first %d, second %d; want 2 and 2 (the retry runs every task again)", r.first.Load(), r.last.Load())
	}
	if n.Message == nil || *n.Message == "" {
		t.Error("no message on the failed notification")
	}
	r.svc.Stop(ctx)
}

func TestDisabledSegmentIgnores(t *testing.T) {
	r := newRig(t, false, nil, false)
	n := r.runOne("ignored")
	if n.Message == nil || *n.Message != SegmentDisabledMessage || r.first.Load() != 0 {
		t.Errorf("message %v, runs %d", n.Message, r.first.Load())
	}
}

// Stop drains at a task boundary: the running task finishes, the next one
// does not start, the notification stays running with its lease released,
// and a new service resumes it without running finished tasks again.
func TestDrainThenResume(t *testing.T) {
	release := make(chan struct{})
	r := newRig(t, false, release, true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r.svc.Start(ctx)
	id := r.notify()
	waitFor(t, "the second task", func() bool { return r.last.Load() > 0 })
	// "second" is running; drain, then let it finish.
	stopped := make(chan error, 1)
	go func() { stopped <- r.svc.Stop(context.Background()) }()
	<-r.svc.Drain()
	close(release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if n := r.waitStatus(id, "running"); n.Status != "running" || r.third.Load() != 0 {
		t.Fatalf("after the drain: status %s, third ran %d times", n.Status, r.third.Load())
	}
	runs, err := r.db.FlowRuns(ctx, id)
	if err != nil || len(runs) != 1 || len(runs[0].Records) != 2 {
		t.Fatalf("persisted runs: %+v %v", runs, err)
	}
	// The next service resumes at once (the lease was released).
	svc2 := r.newService(r.svc.log, 2)
	svc2.Start(ctx)
	r.waitStatus(id, "finished")
	if r.first.Load() != 1 || r.last.Load() != 1 || r.third.Load() != 1 {
		t.Errorf("runs: %d %d %d, want each task once", r.first.Load(), r.last.Load(), r.third.Load())
	}
	svc2.Stop(ctx)
}

// A task still running at the end of the grace period is cancelled: nothing
// is reverted, the notification is left to resume (the log says so), and
// the next start runs that task again.
func TestHardStopRevertsNothingAndResumes(t *testing.T) {
	release := make(chan struct{})
	r := newRig(t, false, release, true)
	hook := &messages{}
	log := logrus.New()
	log.SetOutput(io.Discard)
	log.AddHook(hook)
	r.svc = r.newService(log, 1)
	ctx, hardStop := context.WithCancel(context.Background())
	defer hardStop()
	r.svc.Start(ctx)
	id := r.notify()
	for r.last.Load() == 0 {
		time.Sleep(2 * time.Millisecond)
	}
	// The grace period ends while "second" runs.
	grace, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := r.svc.Stop(grace); err == nil {
		t.Fatal("stopped within the grace period with a task running")
	}
	hardStop()
	r.svc.Wait()
	if !hook.has("nothing was reverted: the next start resumes the notification") || hook.has("was reverted)") {
		t.Fatal("the log does not say that nothing was reverted and the notification is resumed")
	}
	bg := context.Background()
	r.waitStatus(id, "running")
	runs, err := r.db.FlowRuns(bg, id)
	if err != nil || len(runs) != 1 {
		t.Fatalf("persisted runs: %+v %v", runs, err)
	}
	for _, raw := range runs[0].Records {
		var rec engine.TaskRecord
		if err := json.Unmarshal(raw, &rec); err != nil || rec.State == engine.StateReverted || rec.State == engine.StateRevertFailure {
			t.Errorf("record %s: %v", raw, err)
		}
	}
	svc2 := r.newService(log, 2)
	ctx2, cancel2 := context.WithCancel(bg)
	defer cancel2()
	svc2.Start(ctx2)
	close(release)
	r.waitStatus(id, "finished")
	if r.first.Load() != 1 || r.last.Load() != 2 || r.third.Load() != 1 {
		t.Errorf("runs: %d %d %d, want the interrupted task twice, the others once", r.first.Load(), r.last.Load(), r.third.Load())
	}
	svc2.Stop(bg)
}

// A daemon that dies mid-task (here: its worker is stuck and its lease is
// taken over) leaves the notification running; the next engine resumes it
// from the task that had not succeeded, and the stale engine can neither
// write progress nor store a final status.
func TestCrashResume(t *testing.T) {
	release := make(chan struct{})
	r := newRig(t, false, release, true)
	r.svc = r.newService(r.svc.log, 1) // its only worker gets stuck
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r.svc.Start(ctx)
	id := r.notify()
	waitFor(t, "the second task", func() bool { return r.last.Load() > 0 })
	// The first engine is "dead" in its second task. A restart on a
	// single-daemon database takes over the lease at once.
	if _, err := r.db.ReleaseAll(ctx); err != nil {
		t.Fatal(err)
	}
	svc2 := r.newService(r.svc.log, 2)
	svc2.Start(ctx)
	waitFor(t, "the second task on the second engine", func() bool { return r.last.Load() >= 2 })
	close(release) // both engines' "second" return now
	r.waitStatus(id, "finished")
	if r.first.Load() != 1 || r.last.Load() != 2 {
		t.Errorf("runs: first %d (want 1: not re-run), second %d (want 2)", r.first.Load(), r.last.Load())
	}
	svc2.Stop(ctx)
	r.svc.Stop(ctx)
	runs, err := r.db.FlowRuns(ctx, id)
	if err != nil || len(runs) != 1 || len(runs[0].Records) != 3 {
		t.Fatalf("persisted runs: %+v %v", runs, err)
	}
	for _, raw := range runs[0].Records {
		var rec engine.TaskRecord
		if err := json.Unmarshal(raw, &rec); err != nil || rec.State != engine.StateSuccess {
			t.Errorf("record %s: %v", raw, err)
		}
	}
}

// unreachable is a store whose lease renewals fail (the database is gone).
type unreachable struct {
	*db.DB
	fails atomic.Int32
}

func (u *unreachable) RenewLease(context.Context, string, string, time.Time) (bool, error) {
	u.fails.Add(1)
	return false, errors.New("connection refused")
}

// An engine that cannot renew its lease for a whole lease stops the run:
// another engine may have taken the notification over.
func TestRenewFailuresForALeaseStopTheRun(t *testing.T) {
	release := make(chan struct{}) // never closed: the second task waits for its context
	r := newRig(t, false, release, true)
	store := &unreachable{DB: r.db}
	const lease = 300 * time.Millisecond
	svc, hook, ctx := r.startOn(store, Options{Workers: 1, Lease: lease, Poll: 10 * time.Millisecond})
	id := r.notify()
	svc.Wake()
	waitFor(t, "the second task", func() bool { return r.last.Load() > 0 })
	// The worker runs the notification: the two periodic tasks' timers and
	// the lease renewal's ticker are set.
	blockUntil(t, r.clk, 3)
	for i := 0; !hook.has("lease expired while the database was unreachable"); i++ {
		if i == 10 {
			t.Fatalf("the run went on without a lease for %s (renewals tried: %d)", time.Duration(i)*lease/3, store.fails.Load())
		}
		tried := store.fails.Load()
		r.clk.Advance(lease / 3)
		waitFor(t, "a renewal", func() bool {
			return store.fails.Load() > tried || hook.has("lease expired while the database was unreachable")
		})
	}
	if store.fails.Load() < 2 {
		t.Errorf("stopped after %d failed renewals", store.fails.Load())
	}
	if err := svc.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := r.db.Notification(ctx, id); n.Status != "running" {
		t.Errorf("status %s: an engine without its lease stored a final status", n.Status)
	}
	if r.third.Load() != 0 {
		t.Error("the flow went on after the lease was given up")
	}
	if !hook.has("lease lost while running") || hook.has("for shutdown") {
		t.Errorf("log: %q", hook.all())
	}
}

// advanceUntil moves the rig's clock on by step until notification id has
// status want; writes counts the final status writes, for the failure.
func (r *rig) advanceUntil(id, want string, step time.Duration, writes func() int32) {
	r.t.Helper()
	for i := 0; ; i++ {
		n, err := r.db.Notification(context.Background(), id)
		if err != nil {
			r.t.Fatal(err)
		}
		if n.Status == want {
			return
		}
		if i == 2000 {
			r.t.Fatalf("status %s after %d write attempts", n.Status, writes())
		}
		r.clk.Advance(step)
		time.Sleep(time.Millisecond)
	}
}

// startOn starts a service over store with opts, its log kept in the
// returned hook; it runs until the test ends (or its own Stop).
func (r *rig) startOn(store Store, opts Options) (*Service, *messages, context.Context) {
	log := logrus.New()
	log.SetOutput(io.Discard)
	hook := &messages{}
	log.AddHook(hook)
	svc := r.serviceOn(store, log, opts)
	ctx, cancel := context.WithCancel(context.Background())
	r.t.Cleanup(cancel)
	svc.Start(ctx)
	return svc, hook, ctx
}

type messages struct {
	mu   sync.Mutex
	msgs []string
}

func (m *messages) Levels() []logrus.Level { return logrus.AllLevels }

func (m *messages) Fire(e *logrus.Entry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgs = append(m.msgs, e.Message)
	return nil
}

// all returns a copy of the messages so far.
func (m *messages) all() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.msgs)
}

func (m *messages) has(s string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, msg := range m.msgs {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// TestMain runs the PostgreSQL tests on one throw-away cluster.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// Three engines on one PostgreSQL database, each with its periodic tasks
// running every 50 ms (of a clock they share): a notification in error is
// retried once, by one of them, and then failed once.
//
// It needs the PostgreSQL cluster, whose start takes seconds: it runs
// without -short.
func TestPeriodicRetryOnceAcrossEngines(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL: runs without -short")
	}
	url := pgtest.Database(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var r *rig
	var svcs []*Service
	var stores []*counting
	hook := &messages{}
	const every = 50 * time.Millisecond
	for i := range 3 {
		d, err := db.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		if i == 0 {
			r = newRigOn(t, d, true, nil, true)
		}
		d.Clock = r.clk
		store := &counting{DB: d}
		stores = append(stores, store)
		log := logrus.New()
		log.SetOutput(io.Discard)
		log.AddHook(hook)
		svc := New(store, log)
		svc.Clock = r.clk
		runner := &engine.Runner{Clock: clock.Real{}, Log: log, Listener: svc.Listener(), Drain: svc.Drain()}
		mgr := &recovery.Manager{Runner: runner, Flows: r.flows, Claims: &db.ReservedHostClaims{DB: d, Owner: svc.Owner()}}
		svc.SetEngine(&Engine{Manager: mgr, Options: Options{Workers: 2, Poll: 10 * time.Millisecond,
			ProcessUnfinishedEvery: every, CheckExpiredEvery: every}})
		svcs = append(svcs, svc)
	}
	for _, svc := range svcs {
		svc.Start(ctx)
	}
	id := r.notify()
	for _, svc := range svcs {
		svc.Wake()
	}
	r.waitStatus(id, "error")
	// The clock moves a period at a time; an engine busy with the retry
	// when a period passes sets its next timer a period after it is done.
	elections := func() (least int) {
		least = -1
		for _, store := range stores {
			for _, name := range []string{"process_unfinished_notifications", "check_expired_notifications"} {
				if n := len(store.runs(name)); least < 0 || n < least {
					least = n
				}
			}
		}
		return least
	}
	advanceUntil(t, r.clk, every, "the retry to fail", func() bool { return r.status(id).Status == "failed" })
	more := elections() + 6
	advanceUntil(t, r.clk, every, "six more periods on every engine", func() bool { return elections() >= more })
	for _, svc := range svcs {
		svc.Stop(ctx)
	}
	if r.first.Load() != 2 {
		t.Errorf("the flow ran %d times, want 2 (once, then one retry)", r.first.Load())
	}
	retries, failed := 0, 0
	hook.mu.Lock()
	for _, m := range hook.msgs {
		if strings.Contains(m, "retrying notification in status error") {
			retries++
		}
		if strings.Contains(m, "exits with status: failed") && !strings.HasPrefix(m, "Periodic task") {
			failed++
		}
	}
	hook.mu.Unlock()
	if retries != 1 || failed != 1 {
		t.Errorf("%d retries and %d final failed statuses, want 1 and 1", retries, failed)
	}
}

// slowTicks is a store whose lease renewals fail, each after a third of
// the lease (one renewal period) of the clock.
type slowTicks struct {
	*db.DB
	clk   *clock.Fake
	lease time.Duration
	fails atomic.Int32
}

func (s *slowTicks) RenewLease(context.Context, string, string, time.Time) (bool, error) {
	s.clk.Advance(s.lease / 3)
	s.fails.Add(1)
	return false, errors.New("connection refused")
}

// An engine that cannot renew its lease must stop the run before the lease
// it last stored runs out: from then on another engine may claim the
// notification and resume it, and both would evacuate the same servers.
func TestUnrenewedLeaseStopsTheRunBeforeItExpires(t *testing.T) {
	release := make(chan struct{}) // never closed: the second task waits for its context
	r := newRig(t, false, release, true)
	const lease = 300 * time.Millisecond
	store := &slowTicks{DB: r.db, clk: r.clk, lease: lease}
	start := r.clk.Now()
	svc, hook, ctx := r.startOn(store, Options{Workers: 1, Lease: lease, Poll: 10 * time.Millisecond})
	r.notify()
	svc.Wake()
	waitFor(t, "the second task", func() bool { return r.last.Load() > 0 })
	// The two periodic tasks' timers and the lease renewal's ticker are
	// set; the first renewal period passes, and from then on only the slow
	// renewals move the clock.
	blockUntil(t, r.clk, 3)
	r.clk.Advance(lease / 3)
	waitFor(t, "the run to stop", func() bool { return hook.has("lease lost while running") })
	// The claim stored a lease ending at start+lease.
	if stopped := r.clk.Now(); !stopped.Before(start.Add(lease)) {
		t.Errorf("run stopped %s after the claim, when its lease of %s had already run out (%d failed renewals)", stopped.Sub(start), lease, store.fails.Load())
	}
	if err := svc.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// hanging is a store whose task writes block until their context ends (a
// database that accepts the connection and never answers).
type hanging struct {
	*db.DB
	writes atomic.Int32
}

func (h *hanging) SaveTask(ctx context.Context, _, _, _, _ string, _ []byte) error {
	h.writes.Add(1)
	<-ctx.Done()
	return ctx.Err()
}

func (h *hanging) SaveTaskAndStore(ctx context.Context, _, _, _, _ string, _, _ []byte) error {
	h.writes.Add(1)
	<-ctx.Done()
	return ctx.Err()
}

// A hanging database holds the run inside the persistence listener for at
// most a third of the lease per write: the flow still ends and the service
// still stops.
func TestHangingPersistenceWritesAreTimeLimited(t *testing.T) {
	r := newRig(t, false, nil, true)
	store := &hanging{DB: r.db}
	log := logrus.New()
	log.SetOutput(io.Discard)
	hook := &messages{}
	log.AddHook(hook)
	const lease = 30 * time.Millisecond
	svc := r.serviceOn(store, log, Options{Workers: 1, Lease: lease, Poll: 10 * time.Millisecond})

	// One write on its own returns after the limit.
	done := make(chan struct{})
	go func() {
		svc.persist(engine.Event{Type: engine.TaskFailed, NotificationUUID: "n", Flow: conf.FlowInstance, Task: "first"})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a write to a hanging database blocked the listener")
	}
	if !hook.has("no answer from the database within 10ms") {
		t.Errorf("log: %q", hook.all())
	}

	// A whole run ends.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc.Start(ctx)
	id := r.notify()
	svc.Wake()
	r.waitStatus(id, "finished")
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	defer scancel()
	if err := svc.Stop(sctx); err != nil {
		t.Fatal(err)
	}
	if store.writes.Load() < 4 {
		t.Errorf("%d writes tried", store.writes.Load())
	}
	if r.third.Load() != 1 {
		t.Errorf("third task ran %d times", r.third.Load())
	}
}

// rhTask is an evacuation that fails on r1 and, the first time it runs on
// r2, stands for a daemon that dies (it cancels the run).
type rhTask struct {
	mu    sync.Mutex
	tried []string
	crash context.CancelFunc
}

func (t *rhTask) Execute(ctx context.Context, _ *engine.Env, in engine.Store) (engine.Store, error) {
	rh, _ := in[engine.KeyReservedHost].(string)
	t.mu.Lock()
	t.tried = append(t.tried, rh)
	var crash context.CancelFunc
	if rh != "r1" {
		crash, t.crash = t.crash, nil
	}
	t.mu.Unlock()
	switch {
	case rh == "r1":
		return nil, engine.Fail("evacuation to r1 failed")
	case crash != nil:
		crash()
		return nil, ctx.Err()
	}
	return engine.Store{}, nil
}

func (t *rhTask) Revert(context.Context, *engine.Env, engine.Store, error) error { return nil }

// A daemon that dies after the attempt on the first reserved host failed,
// before the attempt on the next one had a success, resumes with the next
// reserved host: the failed one is not tried again.
func TestResumeAfterAFailedReservedHostGoesOnWithTheNext(t *testing.T) {
	r := newRig(t, false, nil, true)
	ctx := context.Background()
	id := r.notify()
	if _, ok, err := r.db.Claim(ctx, r.svc.Owner(), r.clk.Now().Add(time.Minute)); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	evac := &rhTask{}
	flow := &engine.Flow{Kind: conf.FlowHostRH}
	flow.Phases[conf.Pre] = []engine.FlowTask{
		{Spec: engine.Spec{Name: "disable", Atom: "DisableTask"}, Phase: conf.Pre, Task: &stepTask{runs: &atomic.Int32{}}},
	}
	flow.Phases[conf.Main] = []engine.FlowTask{
		{Spec: engine.Spec{Name: "evacuate", Atom: "EvacuateTask", Optional: []string{engine.KeyReservedHost}}, Phase: conf.Main, Task: evac},
	}
	runner := &engine.Runner{Clock: clock.Real{}, Log: r.svc.log, Listener: r.svc.Listener()}
	store := engine.Store{engine.KeyHostName: "h1", engine.KeyNotificationUUID: id, engine.KeyReservedHostList: []any{"r1", "r2", "r3"}}

	cctx, crash := context.WithCancel(ctx)
	defer crash()
	evac.crash = crash
	if res := runner.Run(cctx, engine.Request{NotificationUUID: id, Flow: flow, Store: store, Retry: recovery.MainRetry(conf.FlowHostRH)}); !errors.Is(res.Err, context.Canceled) {
		t.Fatalf("first run: %s %v, want it cut short", res.Status, res.Err)
	}
	cps, err := r.svc.checkpoints(ctx, id)
	if err != nil || cps[conf.FlowHostRH] == nil {
		t.Fatalf("checkpoints %v %v", cps, err)
	}
	res := runner.Run(ctx, engine.Request{NotificationUUID: id, Flow: flow, Store: store, Resume: cps[conf.FlowHostRH], Retry: recovery.MainRetry(conf.FlowHostRH)})
	if res.Status != engine.StatusFinished {
		t.Fatalf("resumed run: %s %v", res.Status, res.Err)
	}
	if want := []string{"r1", "r2", "r2"}; strings.Join(evac.tried, ",") != strings.Join(want, ",") {
		t.Errorf("reserved hosts tried %v, want %v", evac.tried, want)
	}
}

// The start of a fallback flow is saved with its store: the notification's
// checkpoints name the fallback before any of its tasks succeeded.
func TestFallbackStartIsACheckpoint(t *testing.T) {
	r := newRig(t, false, nil, true)
	ctx := context.Background()
	id := r.notify()
	if _, ok, err := r.db.Claim(ctx, r.svc.Owner(), r.clk.Now().Add(time.Minute)); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	r.svc.persist(engine.Event{Type: engine.FallbackStarted, NotificationUUID: id, Flow: conf.FlowHostRH,
		Store: engine.Store{engine.KeyHostName: "h1", engine.KeyReservedHostList: []any{"r1"}}})
	cps, err := r.svc.checkpoints(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	cp := cps[conf.FlowHostRH]
	if len(cps) != 1 || cp == nil || cp.Store[engine.KeyHostName] != "h1" || len(cp.Records) != 0 {
		t.Fatalf("checkpoints %+v", cps)
	}
}

// failingFinish is a database whose final status writes fail until left
// reaches zero.
type failingFinish struct {
	*db.DB
	left, calls atomic.Int32
}

func (f *failingFinish) Finish(ctx context.Context, id, owner, status string, message *string) (bool, error) {
	f.calls.Add(1)
	if f.left.Add(-1) >= 0 {
		return false, errors.New("disk I/O error")
	}
	return f.DB.Finish(ctx, id, owner, status, message)
}

// A final status that cannot be written at once is written once the
// database answers again, while the engine still holds the lease: the
// errored flow is not left running for another engine to run again.
func TestFailedFinalStatusWriteIsTriedAgain(t *testing.T) {
	r := newRig(t, true, nil, true)
	store := &failingFinish{DB: r.db}
	store.left.Store(3)
	svc, hook, ctx := r.startOn(store, Options{Workers: 1, Poll: 10 * time.Millisecond})
	id := r.notify()
	svc.Wake()
	waitFor(t, "the first write", func() bool { return store.calls.Load() > 0 })
	r.advanceUntil(id, "error", finishRetry, func() int32 { return store.calls.Load() })
	if got := store.calls.Load(); got != 4 {
		t.Errorf("write attempts: %d, want 4", got)
	}
	if r.first.Load() != 1 || r.last.Load() != 1 {
		t.Errorf("runs: first %d, second %d; want 1 and 1", r.first.Load(), r.last.Load())
	}
	// The worker logs the write once it has returned, which may be after the
	// status could be read.
	waitFor(t, "the log of the fourth write", func() bool { return hook.has("stored final status error at attempt 4") })
	if err := svc.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// hangingRenewal is a database whose lease renewals hang until their
// context ends, as after a pause the renewal has not yet got through.
type hangingRenewal struct{ *db.DB }

func (h *hangingRenewal) RenewLease(ctx context.Context, _, _ string, _ time.Time) (bool, error) {
	<-ctx.Done()
	return false, ctx.Err()
}

// writingTask waits for release, then stops a server through the cloud.
type writingTask struct {
	cloud   compute.Cloud
	release chan struct{}
	err     chan error
}

func (w *writingTask) Execute(ctx context.Context, _ *engine.Env, _ engine.Store) (engine.Store, error) {
	<-w.release
	err := w.cloud.Stop(ctx, "11111111-1111-4111-8111-111111111111")
	w.err <- err
	return nil, err
}

func (w *writingTask) Revert(context.Context, *engine.Env, engine.Store, error) error { return nil }

// stopCounter counts the stops that reach the cloud.
type stopCounter struct {
	compute.Cloud
	stops atomic.Int32
}

func (s *stopCounter) Stop(context.Context, string) error { s.stops.Add(1); return nil }

// An engine that wakes after a pause longer than its lease makes no cloud
// write before its renewal has caught up: another engine may hold the
// notification by then.
func TestWritesStopWhenTheLeaseHasExpired(t *testing.T) {
	r := newRig(t, false, nil, true)
	cloud := &stopCounter{}
	task := &writingTask{cloud: compute.Guarded(cloud), release: make(chan struct{}), err: make(chan error, 1)}
	r.flows[conf.FlowInstance].Phases[conf.Main][1].Task = task
	log := logrus.New()
	log.SetOutput(io.Discard)
	const lease = 3 * time.Second // the hanging renewal gives up after lease/3 of real time
	svc := r.serviceOn(&hangingRenewal{DB: r.db}, log, Options{Workers: 1, Lease: lease, Poll: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc.Start(ctx)
	r.notify()
	svc.Wake()
	waitFor(t, "the first task", func() bool { return r.first.Load() > 0 })
	blockUntil(t, r.clk, 3)
	r.clk.Advance(2 * lease) // the pause
	close(task.release)
	err := <-task.err
	if cloud.stops.Load() != 0 {
		t.Fatalf("a stop reached the cloud after the lease expired (err %v)", err)
	}
	if err == nil || !strings.Contains(err.Error(), "lease of notification") && !errors.Is(err, context.Canceled) {
		t.Errorf("the write failed with %v, want the lease refusal", err)
	}
	svc.Stop(ctx)
}

// unreachableEnd is a database that stops answering the final status write
// and the lease renewals while down is set; everything else works.
type unreachableEnd struct {
	*db.DB
	down          atomic.Bool
	finishes      atomic.Int32
	failedRenewal atomic.Bool
}

func (u *unreachableEnd) Finish(ctx context.Context, id, owner, status string, message *string) (bool, error) {
	u.finishes.Add(1)
	if u.down.Load() {
		return false, errors.New("database is locked")
	}
	return u.DB.Finish(ctx, id, owner, status, message)
}

func (u *unreachableEnd) RenewLease(ctx context.Context, id, owner string, until time.Time) (bool, error) {
	if u.down.Load() {
		u.failedRenewal.Store(true)
		return false, errors.New("database is locked")
	}
	return u.DB.RenewLease(ctx, id, owner, until)
}

// A final status that cannot be written before the lease runs out is
// still written once the database answers: the errored flow ends error and
// is not run again by the claim of its expired lease, not even by another
// worker of the same engine.
func TestFinalStatusOutlastsTheLease(t *testing.T) {
	r := newRig(t, true, nil, true)
	store := &unreachableEnd{DB: r.db}
	store.down.Store(true)
	const lease = 3 * time.Second
	svc, hook, ctx := r.startOn(store, Options{Workers: 3, Lease: lease, Poll: 10 * time.Millisecond})
	id := r.notify()
	svc.Wake()
	waitFor(t, "the final status write", func() bool { return store.finishes.Load() > 0 })
	// Three leases go by with the database refusing the end of the run;
	// the other workers poll meanwhile.
	for end := r.clk.Now().Add(3 * lease); r.clk.Now().Before(end); {
		r.clk.Advance(50 * time.Millisecond)
		time.Sleep(time.Millisecond)
	}
	if !store.failedRenewal.Load() {
		t.Fatal("no lease renewal was refused: the lease did not run out")
	}
	if n, _ := r.db.Notification(ctx, id); n.Status != "running" {
		t.Fatalf("status %s while the database refused the write", n.Status)
	}
	store.down.Store(false)
	r.advanceUntil(id, "error", 50*time.Millisecond, func() int32 { return store.finishes.Load() })
	// Polls go on for another lease: nothing runs the flow again.
	for end := r.clk.Now().Add(lease); r.clk.Now().Before(end); {
		r.clk.Advance(50 * time.Millisecond)
		time.Sleep(time.Millisecond)
	}
	if err := svc.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if r.first.Load() != 1 || r.last.Load() != 1 {
		t.Errorf("runs: first %d, second %d; want 1 and 1 (the ended flow ran again)", r.first.Load(), r.last.Load())
	}
	if n, _ := r.db.Notification(ctx, id); n.Status != "error" {
		t.Errorf("final status %s, want error", n.Status)
	}
	if !hook.has("trying again until the database answers") {
		t.Errorf("log: %q", hook.all())
	}
}
