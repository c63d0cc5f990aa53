// Package service is kaifuku's notification engine: workers that claim new
// notifications from the database under a lease and run them through the
// recovery manager, a listener that persists every task's state, progress and
// the flow store as they change (so that a restart resumes a run from the
// first task that had not succeeded), Masakari's periodic tasks, and a
// graceful drain for shutdown.
//
// A run's final status is written until the database takes it, even after
// the lease has run out, for as long as no other engine has claimed the
// notification and this engine runs: an errored flow ends error instead of
// being run again. What remains: when the database stays unreachable longer
// than the lease and another engine claims the notification before this
// one's write gets through, or this engine stops before that, the next run
// resumes the flow from its persisted progress and runs its failed part
// again, as after a crash at that moment.
package service

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/kaifuku-ha/kaifuku/engine/db"
	"github.com/kaifuku-ha/kaifuku/engine/recovery"
)

// SegmentDisabledMessage is Masakari's message (sic) for a notification
// ignored because its segment is disabled.
const SegmentDisabledMessage = recovery.SegmentDisabledMessage

// Options are the engine's timing options ([DEFAULT] of masakari.conf and
// kaifuku's [api]/[database]); zero values take Masakari's defaults.
type Options struct {
	Workers                int           // [api] worker_count, default 4
	Lease                  time.Duration // [database] lease_seconds, default 60 s
	ProcessUnfinishedEvery time.Duration // process_unfinished_notifications_interval, 120 s
	RetryNewAfter          time.Duration // retry_notification_new_status_interval, 60 s
	CheckExpiredEvery      time.Duration // check_expired_notifications_interval, 600 s
	ExpireAfter            time.Duration // notifications_expired_interval, 86400 s
	Poll                   time.Duration // claim poll interval without a wake-up, default 1 s
	PeriodicFirstRunDelay  time.Duration // delay before the first periodic run, default 0
}

// OptionsFrom reads the options of a configuration.
func OptionsFrom(cfg *conf.Config) Options {
	return Options{
		Workers:                cfg.API.WorkerCount,
		Lease:                  cfg.Database.LeaseSeconds,
		ProcessUnfinishedEvery: cfg.Engine.ProcessUnfinishedNotificationsInterval,
		RetryNewAfter:          cfg.Engine.RetryNotificationNewStatusInterval,
		CheckExpiredEvery:      cfg.Engine.CheckExpiredNotificationsInterval,
		ExpireAfter:            cfg.Engine.NotificationsExpiredInterval,
	}
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	def(&o.Lease, 60*time.Second)
	def(&o.ProcessUnfinishedEvery, 120*time.Second)
	def(&o.RetryNewAfter, 60*time.Second)
	def(&o.CheckExpiredEvery, 600*time.Second)
	def(&o.ExpireAfter, 86400*time.Second)
	def(&o.Poll, time.Second)
	return o
}

// Store is what the engine needs of the database (db.DB implements it).
type Store interface {
	recovery.Segments
	Claim(ctx context.Context, owner string, leaseUntil time.Time) (db.Notification, bool, error)
	ClaimRetry(ctx context.Context, id, owner string, leaseUntil time.Time) (db.Notification, bool, error)
	RenewLease(ctx context.Context, id, owner string, leaseUntil time.Time) (bool, error)
	Release(ctx context.Context, id, owner string) error
	Finish(ctx context.Context, id, owner, status string, message *string) (bool, error)
	SetStatus(ctx context.Context, id, status string, message *string, from ...string) (bool, error)
	WithStatus(ctx context.Context, before time.Time, statuses ...string) ([]db.Notification, error)
	HostByUUID(ctx context.Context, id string) (db.Host, error)
	SaveTask(ctx context.Context, id, owner, flow, task string, record []byte) error
	SaveProgress(id, owner, flow, task string, record func() ([]byte, error), failed func(error))
	SaveTaskAndStore(ctx context.Context, id, owner, flow, task string, record, store []byte) error
	SaveStore(ctx context.Context, id, owner, flow string, store []byte) error
	FlowRuns(ctx context.Context, id string) ([]db.FlowRun, error)
	ClearProgress(ctx context.Context, id string) error
	TryPeriodic(ctx context.Context, name, owner string, every time.Duration) (bool, error)
	SegmentHostNotifications(ctx context.Context, hostUUID string, window time.Duration) ([]db.Notification, int, error)
}

// Engine is what a configuration generation provides: the manager with its
// flows. A reload swaps it; running notifications keep the one they started
// with.
type Engine struct {
	Manager *recovery.Manager
	Options Options
}

// Observer is told about final statuses (metrics).
type Observer interface {
	Notification(typ, status string, d time.Duration)
}

// Service runs notifications.
type Service struct {
	store    Store
	log      *logrus.Logger
	owner    string
	engine   atomic.Pointer[Engine]
	wake     chan struct{}
	drain    chan struct{}
	stopOnce sync.Once
	Observer Observer
	// Clock times the polls, the periodic tasks and the lease renewals and
	// gives the time of leases (clock.Real from New). Set it before Start,
	// to the clock the database runs on.
	Clock clock.Timers

	wg      sync.WaitGroup
	running sync.Map     // notification uuid -> struct{}
	ended   atomic.Int64 // runs of process that have returned
	records records      // the encoding of the task records persist writes
}

// New returns a Service; set the engine with SetEngine before Start. The
// manager's runner must drain with Drain() and report to Listener().
func New(store Store, log *logrus.Logger) *Service {
	return &Service{store: store, log: log, owner: "kaifuku-" + uuid.NewString(),
		wake: make(chan struct{}, 1), drain: make(chan struct{}), Clock: clock.Real{}}
}

func (s *Service) now() time.Time { return s.Clock.Now() }

// Owner is the name this service claims notifications under.
func (s *Service) Owner() string { return s.owner }

// Drain is closed when the service starts shutting down; give it to
// engine.Runner.Drain.
func (s *Service) Drain() <-chan struct{} { return s.drain }

// SetEngine installs a configuration generation (at start and on reload).
func (s *Service) SetEngine(e *Engine) {
	e.Options = e.Options.withDefaults()
	s.engine.Store(e)
}

// Wake tells the workers there is work (a notification was created).
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Running reports how many notifications are being processed.
func (s *Service) Running() int {
	n := 0
	s.running.Range(func(any, any) bool { n++; return true })
	return n
}

// Start launches the workers and the periodic tasks. ctx is the hard stop:
// cancelling it aborts tasks in flight (Stop drains gracefully first).
func (s *Service) Start(ctx context.Context) {
	opts := s.engine.Load().Options
	for i := 0; i < opts.Workers; i++ {
		s.wg.Add(1)
		go s.worker(ctx, i)
	}
	s.wg.Add(2)
	go s.periodic(ctx, "process_unfinished_notifications", func(o Options) time.Duration { return o.ProcessUnfinishedEvery }, s.processUnfinished)
	go s.periodic(ctx, "check_expired_notifications", func(o Options) time.Duration { return o.CheckExpiredEvery }, s.checkExpired)
}

// Stop drains: no new claims, running flows stop at their next task boundary
// and are left to resume. It returns when every worker has returned or ctx
// ends (the caller then cancels Start's context and waits with Wait).
func (s *Service) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.drain) })
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%d notification(s) still running after the grace period: %w", s.Running(), ctx.Err())
	}
}

// Wait waits for every worker to return.
func (s *Service) Wait() { s.wg.Wait() }

func (s *Service) draining() bool {
	select {
	case <-s.drain:
		return true
	default:
		return false
	}
}

func (s *Service) worker(ctx context.Context, i int) {
	defer s.wg.Done()
	for {
		if s.draining() || ctx.Err() != nil {
			return
		}
		e := s.engine.Load()
		until := s.now().Add(e.Options.Lease)
		ended := s.ended.Load()
		n, ok, err := s.store.Claim(ctx, s.owner, until)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Errorf("claim a notification: %v", err)
			}
			ok = false
		}
		if ok && n.Resumed && s.ownRun(ctx, n, ended) {
			continue
		}
		if ok {
			s.process(ctx, e, n, until)
			continue
		}
		if !s.wait(ctx, e.Options.Poll, s.wake) {
			return
		}
	}
}

// ownRun reports whether a resumed claim n may be of a notification this
// engine is still finishing: its lease ran out while process was storing
// its final status, which is stored by that write, not by running the flow
// again. n is left alone while that write goes on (the claim keeps this
// engine its owner, which the write needs). When some run of this engine
// ended during the claim (ended is the count before it), its final status
// may have been stored just after the claim: the claim is handed back, and
// the next one finds out.
func (s *Service) ownRun(ctx context.Context, n db.Notification, ended int64) bool {
	if _, busy := s.running.Load(n.UUID); busy {
		return true
	}
	if s.ended.Load() == ended {
		return false
	}
	if err := s.store.Release(context.WithoutCancel(ctx), n.UUID, s.owner); err != nil {
		s.log.WithField("notification_uuid", n.UUID).Errorf("release the lease: %v", err)
	}
	return true
}

// The first wait before a failed final status write is tried again, and
// the longest.
const (
	finishRetry    = 100 * time.Millisecond
	finishRetryMax = 5 * time.Second
)

// process runs one claimed notification, held until leaseUntil, to its
// final status.
func (s *Service) process(ctx context.Context, e *Engine, n db.Notification, leaseUntil time.Time) {
	log := s.log.WithField("notification_uuid", n.UUID)
	s.running.Store(n.UUID, struct{}{})
	defer func() {
		// Counted before the entry goes (ownRun relies on that order).
		s.ended.Add(1)
		s.running.Delete(n.UUID)
	}()
	start := s.now()

	// The reserved hosts the flow claims in the database are held by this
	// notification under this engine's lease (db.ReservedHostClaims).
	// An engine that was paused past its lease (a stopped process, a
	// frozen VM) wakes with its run going on before the renewal notices:
	// every cloud write of the run first checks that the lease still
	// holds (compute.Guarded).
	var until atomic.Int64
	until.Store(leaseUntil.UnixNano())
	rctx, cancel := context.WithCancel(compute.WithWriteGuard(ctx, func() error {
		if at := time.Unix(0, until.Load()); !s.now().Before(at) {
			return fmt.Errorf("not writing to the cloud: this engine's lease of notification %s expired at %s, and another engine may hold it now", n.UUID, at.UTC().Format(time.RFC3339))
		}
		return nil
	}))
	defer cancel()
	renewDone := make(chan struct{})
	var leaseLost atomic.Bool
	go s.renew(rctx, e.Options.Lease, n.UUID, log, &until, func() { leaseLost.Store(true); cancel() }, renewDone)
	defer func() { cancel(); <-renewDone }()

	// finish stores the final status. A failed write is tried again, with
	// backoff, until it is stored, another engine has taken the
	// notification over, or this engine stops: giving up while the
	// notification still names this engine would let a claim of its
	// expired lease run the ended flow again. The write is conditional on
	// this engine still holding the notification (db Finish), so it is
	// safe after the lease has run out; this engine's own workers leave a
	// notification alone while it is being finished (worker).
	finish := func(status string, msg *string) {
		for delay, tries := finishRetry, 1; ; delay, tries = min(2*delay, finishRetryMax), tries+1 {
			ok, err := s.store.Finish(context.WithoutCancel(ctx), n.UUID, s.owner, status, msg)
			switch {
			case err == nil && !ok:
				log.Warnf("final status %s not stored: another engine has taken the notification over and resumes it", status)
				return
			case err == nil:
				if tries > 1 {
					log.Infof("stored final status %s at attempt %d", status, tries)
				}
				log.Infof("Notification %s exits with status: %s.", n.UUID, status)
				if s.Observer != nil {
					s.Observer.Notification(n.Type, status, s.now().Sub(start))
				}
				return
			case tries == 1:
				log.Errorf("store final status %s: %v; trying again until the database answers", status, err)
			}
			t := s.Clock.NewTimer(delay)
			select {
			case <-t.C():
			case <-ctx.Done():
				t.Stop()
				log.Errorf("final status %s not stored after %d attempts before this engine stopped: the next engine to claim the notification resumes it and runs its flow again", status, tries)
				return
			}
		}
	}

	job := recovery.Job{Notification: recovery.Notification{UUID: n.UUID, Type: n.Type, GeneratedTime: n.GeneratedTime, Payload: n.PayloadMap()},
		Resumed: n.Resumed, Retry: n.Retry, Released: n.Released}
	if n.Resumed {
		cps, err := s.checkpoints(ctx, n.UUID)
		if err != nil {
			msg := fmt.Sprintf("read persisted progress: %v", err)
			log.Error(msg)
			finish(engine.StatusError, &msg)
			return
		}
		job.Resume = cps
	}
	out := e.Manager.Recover(rctx, job, segmentSource{s.store, n.SourceHostUUID})

	if out.Interrupted {
		if leaseLost.Load() {
			log.Warn("lease lost while running; nothing was reverted: the engine that claims the notification next resumes it")
			return
		}
		if err := s.store.Release(context.WithoutCancel(ctx), n.UUID, s.owner); err != nil {
			log.Errorf("release the lease: %v", err)
		}
		if ctx.Err() != nil {
			log.Warn("cancelled at the end of the grace period; nothing was reverted: the next start resumes the notification and runs the interrupted task again")
		} else {
			log.Info("stopped at a task boundary for shutdown; the next start resumes it")
		}
		return
	}
	status := out.Status
	if status == engine.StatusError && n.Retry {
		log.Infof("Periodic task 'process_unfinished_notifications': Notification %s exits with status: failed.", n.UUID)
		status = engine.StatusFailed
	}
	var msg *string
	if out.Message != "" {
		msg = &out.Message
	}
	finish(status, msg)
}

// segmentSource is the database as the recovery of one claimed
// notification sees it: its source host is found by the UUID the
// notification was stored with.
type segmentSource struct {
	Store
	hostUUID string
}

func (s segmentSource) SourceHost(ctx context.Context, _ recovery.Notification) (recovery.Host, error) {
	h, err := s.HostByUUID(ctx, s.hostUUID)
	if err != nil {
		return recovery.Host{}, fmt.Errorf("source host %s: %w", s.hostUUID, err)
	}
	return recovery.Host{Name: h.Name, Reserved: h.Reserved, OnMaintenance: h.OnMaintenance,
		SegmentEnabled: h.Segment.Enabled, RecoveryMethod: h.Segment.RecoveryMethod}, nil
}

// HostFailures counts the hosts of the source host's segment with a host
// failure received within window, and the segment's hosts.
func (s segmentSource) HostFailures(ctx context.Context, _ recovery.Notification, window time.Duration) (int, int, error) {
	notes, hosts, err := s.SegmentHostNotifications(ctx, s.hostUUID, window)
	if err != nil {
		return 0, 0, fmt.Errorf("host notifications of the segment of host %s: %w", s.hostUUID, err)
	}
	failed := map[string]bool{}
	for _, n := range notes {
		if recovery.IsHostFailure(n.Type, n.PayloadMap()) {
			failed[n.SourceHostUUID] = true
		}
	}
	return len(failed), hosts, nil
}

// renew extends the lease every third of its length; when the lease is lost
// the run is cancelled, and so it is when the database could not be reached
// to renew it twice in a row: the run stops a renewal period before the
// lease it last stored runs out, not after another engine may have taken the
// notification over. Each renewal is bounded by that period so that a
// database that hangs is noticed as one that refuses.
func (s *Service) renew(ctx context.Context, lease time.Duration, id string, log *logrus.Entry, until *atomic.Int64, lost func(), done chan struct{}) {
	defer close(done)
	period := lease / 3
	t := s.Clock.NewTicker(period)
	defer t.Stop()
	renewed := s.now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			asked := s.now()
			rctx, cancel := context.WithTimeout(ctx, period)
			ok, err := s.store.RenewLease(rctx, id, s.owner, asked.Add(lease))
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				log.Errorf("renew lease: %v", err)
				if s.now().Sub(renewed) >= lease-period {
					log.Error("lease expired while the database was unreachable: the run stops (a run that has ended keeps trying to store its final status); another engine may claim the notification")
					lost()
					return
				}
				continue
			}
			renewed = asked
			if ok {
				until.Store(asked.Add(lease).UnixNano())
			}
			if !ok {
				log.Error("lease lost: the notification was claimed elsewhere or expired")
				lost()
				return
			}
		}
	}
}

// checkpoints loads the persisted runs of a notification. A run is resumed
// only once a task of it has succeeded (its store was saved); a run
// interrupted in its first task starts again.
func (s *Service) checkpoints(ctx context.Context, id string) (recovery.Checkpoints, error) {
	runs, err := s.store.FlowRuns(ctx, id)
	if err != nil {
		return nil, err
	}
	cps := recovery.Checkpoints{}
	for _, fr := range runs {
		if fr.Store == nil {
			continue
		}
		cp := &engine.Checkpoint{}
		if err := json.Unmarshal(fr.Store, &cp.Store); err != nil {
			return nil, fmt.Errorf("flow %s store: %w", fr.Flow, err)
		}
		for _, raw := range fr.Records {
			var rec engine.TaskRecord
			if err := json.Unmarshal(raw, &rec); err != nil {
				return nil, fmt.Errorf("flow %s task record: %w", fr.Flow, err)
			}
			cp.Records = append(cp.Records, rec)
		}
		cps[conf.FlowKind(fr.Flow)] = cp
	}
	return cps, nil
}

// ---- periodic tasks

func (s *Service) periodic(ctx context.Context, name string, every func(Options) time.Duration, run func(context.Context)) {
	defer s.wg.Done()
	delay := s.engine.Load().Options.PeriodicFirstRunDelay
	for {
		if delay <= 0 {
			delay = every(s.engine.Load().Options)
		}
		if !s.wait(ctx, delay, nil) {
			return
		}
		delay = 0
		// With several engines on one database, one of them runs the task
		// in each period.
		log := s.log.WithField("periodic_task", name)
		ok, err := s.store.TryPeriodic(ctx, name, s.owner, every(s.engine.Load().Options))
		if err != nil {
			log.Errorf("elect the engine that runs it: %v", err)
			continue
		}
		if !ok {
			log.Debug("another engine ran it in this period")
			continue
		}
		log.Debug("running periodic task")
		run(ctx)
	}
}

// wait waits d on the service's clock, or until wake (when not nil) is
// signalled; it returns false when the service drains or ctx ends first.
func (s *Service) wait(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	t := s.Clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-wake:
		return true
	case <-s.drain:
		return false
	case <-ctx.Done():
		return false
	}
}

// processUnfinished is Masakari's _process_unfinished_notifications: every
// error notification gets one retry (a second error makes it failed), and
// new notifications older than retry_notification_new_status_interval are
// picked up.
func (s *Service) processUnfinished(ctx context.Context) {
	e := s.engine.Load()
	errs, err := s.store.WithStatus(ctx, time.Time{}, engine.StatusError)
	if err != nil {
		s.log.Errorf("periodic task 'process_unfinished_notifications': %v", err)
		return
	}
	for _, n := range errs {
		if s.draining() || ctx.Err() != nil {
			return
		}
		log := s.log.WithField("notification_uuid", n.UUID)
		if n.Retry {
			// Retried already (a retry that was interrupted and resumed ends
			// in failed when it errs again).
			if ok, err := s.store.SetStatus(ctx, n.UUID, engine.StatusFailed, nil, engine.StatusError); err == nil && ok {
				log.Infof("Periodic task 'process_unfinished_notifications': Notification %s exits with status: failed.", n.UUID)
			}
			continue
		}
		until := s.now().Add(e.Options.Lease)
		claimed, ok, err := s.store.ClaimRetry(ctx, n.UUID, s.owner, until)
		if err != nil || !ok {
			continue
		}
		if err := s.store.ClearProgress(ctx, n.UUID); err != nil {
			log.Errorf("clear progress before retry: %v", err)
		}
		log.Info("Periodic task 'process_unfinished_notifications': retrying notification in status error")
		s.process(ctx, e, claimed, until)
	}
	stale, err := s.store.WithStatus(ctx, s.now().Add(-e.Options.RetryNewAfter), engine.StatusNew)
	if err == nil && len(stale) > 0 {
		s.log.Infof("Periodic task 'process_unfinished_notifications': %d notification(s) in status new for more than %s; waking the workers", len(stale), e.Options.RetryNewAfter)
		s.Wake()
	}
}

// checkExpired is Masakari's _check_expired_notifications.
func (s *Service) checkExpired(ctx context.Context) {
	e := s.engine.Load()
	old, err := s.store.WithStatus(ctx, s.now().Add(-e.Options.ExpireAfter), engine.StatusNew, engine.StatusRunning, engine.StatusError)
	if err != nil {
		s.log.Errorf("periodic task 'check_expired_notifications': %v", err)
		return
	}
	for _, n := range old {
		ok, err := s.store.SetStatus(ctx, n.UUID, engine.StatusFailed, nil, engine.StatusNew, engine.StatusRunning, engine.StatusError)
		if err == nil && ok {
			s.log.WithField("notification_uuid", n.UUID).Infof("Periodic task 'check_expired_notifications': Notification %s is expired.", n.UUID)
		}
	}
}
