package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
)

// Runner executes flows. Its zero value is not usable: set Clock and Log.
type Runner struct {
	Clock clock.Clock
	Log   *logrus.Logger
	// Listener receives every run event; may be nil.
	Listener Listener
	// TaskTimeout bounds a task whose Spec has no Timeout; 0 means none.
	TaskTimeout time.Duration
	// Drain, once closed, stops every run at its next task boundary: the
	// task in flight finishes, nothing is reverted, and the run ends with an
	// error wrapping ErrInterrupted so that it can be resumed (graceful
	// shutdown). Nil never drains.
	Drain <-chan struct{}
}

// ErrInterrupted ends a run stopped by Runner.Drain at a task boundary.
var ErrInterrupted = errors.New("run interrupted for shutdown")

// Request is one flow run.
type Request struct {
	NotificationUUID string
	Flow             *Flow
	// Store is the initial store (InitialKeys of the flow); it is copied.
	Store Store
	Hosts HostUpdater
	// Claims is given to the tasks (Env.Claims); nil where nothing claims.
	Claims ReservedHostClaimer
	// VMoves is given to the tasks (Env.VMoves); nil where nothing records.
	VMoves VMoveRecorder
	// ServerLocks is given to the tasks (Env.ServerLocks); nil where
	// nothing records the servers a recovery locks.
	ServerLocks ServerLocker
	// Evacuations is given to the tasks (Env.Evacuations); nil where
	// nothing bounds evacuations across recoveries.
	Evacuations EvacuationSlots
	// Retry, when set, runs the main phase once per item of a store list
	// until an attempt succeeds; nil runs it once. The recovery layer sets
	// it (the reserved hosts of a host failure); the runner knows no list.
	Retry *Retry
	// Resume continues an interrupted run: tasks whose record is SUCCESS are
	// not executed again, and Resume.Store replaces Store.
	Resume *Checkpoint
	// Fallback marks the run of a recovery method's second flow, after the
	// first failed: a fresh one (no Resume) starts with a FallbackStarted
	// event, so that the fall back is persisted before any task succeeds.
	Fallback bool
}

// Checkpoint is the persisted state of a run, enough to resume it.
type Checkpoint struct {
	Store   Store
	Records []TaskRecord
}

// Retry repeats a flow's main phase over the items of a list in the store:
// main runs once per item, in list order, with Bind set to the item in the
// store its tasks see, until an attempt succeeds, ends the flow early or the
// run is interrupted. A failed attempt reverts the main tasks it ran before
// the next one runs them again; pre and post run once and never see Bind. A
// resumed run goes on with the item Bind held when it stopped. When every
// attempt failed, the run fails with the last attempt's error (and reverts
// pre); when the list is missing or empty, with None.
type Retry struct {
	Over  string // store key of the list of items
	Bind  string // store key an attempt binds to its item; also its log field
	Label string // what an item is, in the log: "reserved host"
	None  error  // the error of a run with nothing to try
}

// Result is the outcome of a run.
type Result struct {
	Status string       // finished, ignored or error
	Err    error        // nil when finished without a skip
	Tasks  []TaskRecord // every task that ran, in flow order
	Store  Store
	// Interrupted is set when the run was stopped from outside, by Drain or
	// by the end of its context, rather than ended by its tasks: nothing was
	// reverted, and resuming it (Request.Resume) runs the unfinished tasks,
	// the one in flight included. The runner alone decides it; Status is
	// then error, which is not the notification's final status.
	Interrupted bool
}

type run struct {
	r       *Runner
	req     Request
	store   Store
	mu      sync.Mutex // guards records and store against progress from task goroutines
	records map[string]*TaskRecord
	order   []string
	done    map[string]bool // resumed tasks that already succeeded
	ran     []FlowTask      // tasks to revert, in run order
	log     *logrus.Entry
	attempt int    // 1-based attempt of a retried main, 0 otherwise
	item    string // the item of that attempt
	stopped bool   // fail found the run interrupted (Result.Interrupted)
	shared  shared
}

// Run executes the flow: pre, main (once per item of Request.Retry until an
// attempt succeeds, when it is set), post. On a failure it reverts the tasks
// that ran in reverse order. Skips and ignores end the flow early without
// reverting, and so does an interruption (Result.Interrupted). Run never
// panics because of a task.
func (r *Runner) Run(ctx context.Context, req Request) Result {
	ru := &run{r: r, req: req, records: map[string]*TaskRecord{}, done: map[string]bool{}}
	ru.log = r.Log.WithField("notification_uuid", req.NotificationUUID)
	ru.store = req.Store.Clone()
	if req.Resume != nil {
		ru.store = req.Resume.Store.Clone()
		for _, rec := range req.Resume.Records {
			rec := rec
			ru.records[rec.Name] = &rec
			ru.order = append(ru.order, rec.Name)
			if rec.State == StateSuccess {
				ru.done[rec.Name] = true
			}
		}
	}
	if req.Fallback && req.Resume == nil {
		ru.emit(Event{Type: FallbackStarted, Store: ru.store.Clone()})
	}
	err := ru.flow(ctx)
	ru.shared.close()
	status := StatusOf(err)
	res := Result{Status: status, Err: err, Store: ru.store.Clone(), Tasks: ru.snapshot(), Interrupted: ru.stopped}
	ru.emit(Event{Type: FlowFinished, Status: status, Err: err, Store: res.Store})
	return res
}

func (ru *run) flow(ctx context.Context) error {
	if err := ru.phase(ctx, conf.Pre); err != nil {
		return ru.fail(ctx, err)
	}
	if ru.req.Retry != nil {
		if err := ru.retryMain(ctx, ru.req.Retry); err != nil {
			return ru.fail(ctx, err)
		}
	} else if err := ru.phase(ctx, conf.Main); err != nil {
		return ru.fail(ctx, err)
	}
	if err := ru.phase(ctx, conf.Post); err != nil {
		return ru.fail(ctx, err)
	}
	return nil
}

// retryMain runs main once per item of the retry's list, in list order, until
// an attempt succeeds. A failed attempt reverts the main tasks it ran.
func (ru *run) retryMain(ctx context.Context, rt *Retry) error {
	items, err := ru.store.Strings(rt.Over)
	if err != nil || len(items) == 0 {
		return rt.None
	}
	start := 0
	if cur, ok := ru.store[rt.Bind].(string); ok {
		if i := slices.Index(items, cur); i >= 0 {
			start = i // resuming: go on with the item that was being tried
		}
	}
	var last error
	for i := start; i < len(items); i++ {
		ru.attempt, ru.item = i+1, items[i]
		ru.mu.Lock()
		ru.store[rt.Bind] = items[i]
		ru.mu.Unlock()
		mark := len(ru.ran)
		last = ru.phase(ctx, conf.Main)
		if last == nil || IsEarlyEnd(last) || interrupted(ctx, last) {
			return last
		}
		ru.log.WithField(rt.Bind, items[i]).Warnf("recovery with %s %s failed: %v", rt.Label, items[i], last)
		ru.revert(ctx, ru.ran[mark:], last)
		ru.ran = ru.ran[:mark]
		if i+1 < len(items) {
			// A new attempt must run the main tasks again.
			for _, t := range ru.req.Flow.Phases[conf.Main] {
				delete(ru.done, t.Spec.Name)
			}
			// Tell the listener before the attempt starts: a store saved
			// only on a task's success would still name the failed item
			// if the daemon stopped before the next attempt had one.
			ru.attempt, ru.item = i+2, items[i+1]
			ru.mu.Lock()
			ru.store[rt.Bind] = items[i+1]
			next := ru.store.Clone()
			ru.mu.Unlock()
			ru.emit(Event{Type: NextAttempt, Phase: conf.Main, Store: next})
		}
	}
	ru.mu.Lock()
	delete(ru.store, rt.Bind)
	ru.mu.Unlock()
	return last
}

// interrupted reports whether a run that ended with err was stopped from
// outside (Drain, or the end of ctx: shutdown, a lost lease) rather than by
// its tasks. It is the one test of it: fail leaves such a run as a crash
// would, to be resumed from its first unfinished task, and records it for
// Result.
func interrupted(ctx context.Context, err error) bool {
	if err == nil || IsEarlyEnd(err) {
		return false
	}
	return errors.Is(err, ErrInterrupted) || ctx.Err() != nil
}

// fail reverts everything that ran unless err is an early end or the run
// was interrupted: a drained or cancelled run is not undone.
func (ru *run) fail(ctx context.Context, err error) error {
	if IsEarlyEnd(err) {
		return err
	}
	if interrupted(ctx, err) {
		ru.stopped = true
		return err
	}
	ru.revert(ctx, ru.ran, err)
	ru.ran = nil
	return err
}

func (ru *run) phase(ctx context.Context, p conf.Phase) error {
	for _, t := range ru.req.Flow.Phases[p] {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("flow interrupted before task %q: %w", t.Spec.Name, err)
		}
		if ru.r.Drain != nil && !ru.done[t.Spec.Name] {
			select {
			case <-ru.r.Drain:
				return fmt.Errorf("flow stopped before task %q: %w", t.Spec.Name, ErrInterrupted)
			default:
			}
		}
		ru.ran = append(ru.ran, t)
		if ru.done[t.Spec.Name] {
			ru.log.WithField("task", t.Spec.Name).Info("task already succeeded before the restart; not run again")
			if err := ru.records[t.Spec.Name].earlyEnd(); err != nil {
				return err
			}
			continue
		}
		if err := ru.execute(ctx, t); err != nil {
			return err
		}
	}
	return nil
}

func (ru *run) record(t FlowTask) *TaskRecord {
	rec, ok := ru.records[t.Spec.Name]
	if !ok {
		rec = &TaskRecord{Name: t.Spec.Name, Atom: t.Spec.AtomName(), Phase: t.Phase.String(), NoProgress: t.Spec.NoProgress}
		ru.records[t.Spec.Name] = rec
		ru.order = append(ru.order, t.Spec.Name)
	}
	return rec
}

func (ru *run) timeout(t FlowTask) time.Duration {
	if t.Spec.Timeout > 0 {
		return t.Spec.Timeout
	}
	return ru.r.TaskTimeout
}

func (ru *run) env(t FlowTask, log *logrus.Entry) *Env {
	return &Env{
		NotificationUUID: ru.req.NotificationUUID,
		Task:             t.Spec.Name,
		Clock:            ru.r.Clock,
		Log:              log,
		Hosts:            ru.req.Hosts,
		Claims:           ru.req.Claims,
		VMoves:           ru.req.VMoves,
		ServerLocks:      ru.req.ServerLocks,
		Evacuations:      ru.req.Evacuations,
		shared:           &ru.shared,
		progress: func(msg string, p float64) {
			ru.mu.Lock()
			rec := ru.record(t)
			e := ProgressEntry{Timestamp: ru.r.Clock.Now().UTC(), Progress: p, Message: msg}
			rec.Details = append(rec.Details, e)
			rec.Progress = p
			if ru.r.Listener == nil {
				ru.mu.Unlock()
				return
			}
			snap := cloneRecord(rec)
			ru.mu.Unlock()
			ru.emit(Event{Type: TaskProgress, Task: t.Spec.Name, TaskKind: t.Spec.Kind, Phase: t.Phase, Record: snap, Entry: &e})
		},
	}
}

func (ru *run) execute(ctx context.Context, t FlowTask) error {
	log := ru.log.WithField("task", t.Spec.Name)
	if ru.item != "" && t.Phase == conf.Main {
		log = log.WithField(ru.req.Retry.Bind, ru.item)
	}
	ru.mu.Lock()
	rec := ru.record(t)
	rec.State, rec.Progress, rec.Error = StateRunning, 0, ""
	rec.EarlyEnd, rec.EarlyEndMessage = "", ""
	rec.Started, rec.Ended = ru.r.Clock.Now().UTC(), time.Time{}
	snap := cloneRecord(rec)
	in := ru.inputs(t)
	ru.mu.Unlock()
	ru.emit(Event{Type: TaskStarted, Task: t.Spec.Name, TaskKind: t.Spec.Kind, Phase: t.Phase, Record: snap})
	log.Debug("task started")

	tctx, cancel := ctx, context.CancelFunc(func() {})
	if d := ru.timeout(t); d > 0 {
		tctx, cancel = context.WithTimeout(ctx, d)
		tctx = clock.WithDeadline(tctx, ru.r.Clock.Now().Add(d))
	}
	began := ru.r.Clock.Now()
	out, err := safeExecute(tctx, t.Task, ru.env(t, log), in)
	cancel()
	if err == nil {
		err = checkProvides(t.Spec, out)
	} else if IsEarlyEnd(err) {
		// What an early end returns goes into the store too.
		if ferr := checkFacts(t.Spec, out); ferr != nil {
			err = ferr
		}
	}
	if err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		err = fmt.Errorf("task %q timed out after %s: %w", t.Spec.Name, ru.timeout(t), err)
	}
	dur := ru.r.Clock.Now().Sub(began)

	ru.mu.Lock()
	rec.Ended = ru.r.Clock.Now().UTC()
	if err == nil || IsEarlyEnd(err) {
		for k, v := range out {
			ru.store[k] = v
		}
		rec.State, rec.Progress = StateSuccess, 1
		if err != nil {
			rec.EarlyEnd, rec.EarlyEndMessage = "ignore", err.Error()
			if IsSkip(err) {
				rec.EarlyEnd = "skip"
			}
		}
	} else {
		rec.State, rec.Error = StateFailure, err.Error()
	}
	var store Store
	if ru.r.Listener != nil {
		// Copies for the listener only: without one, nobody reads them.
		snap, store = cloneRecord(rec), ru.store.Clone()
	}
	ru.mu.Unlock()

	switch {
	case err == nil:
		log.WithField("duration", dur).Info("task succeeded")
		ru.emit(Event{Type: TaskSucceeded, Task: t.Spec.Name, TaskKind: t.Spec.Kind, Phase: t.Phase, Record: snap, Store: store, Duration: dur})
	case IsEarlyEnd(err):
		log.WithField("duration", dur).Infof("task ended the flow early: %v", err)
		ru.emit(Event{Type: TaskSucceeded, Task: t.Spec.Name, TaskKind: t.Spec.Kind, Phase: t.Phase, Record: snap, Store: store, Duration: dur, Err: err})
	default:
		log.WithField("duration", dur).Errorf("task failed: %v", err)
		ru.emit(Event{Type: TaskFailed, Task: t.Spec.Name, TaskKind: t.Spec.Kind, Phase: t.Phase, Record: snap, Store: store, Err: err, Duration: dur})
	}
	return err
}

// inputs copies the store for a task (callers hold ru.mu): a retry's binding
// is main's alone.
func (ru *run) inputs(t FlowTask) Store {
	in := ru.store.Clone()
	if ru.req.Retry != nil && t.Phase != conf.Main {
		delete(in, ru.req.Retry.Bind)
	}
	return in
}

func (ru *run) revert(ctx context.Context, tasks []FlowTask, cause error) {
	// Reverts must run even when ctx was cancelled (shutdown): give them a
	// context of their own, bounded like a task.
	rctx := context.WithoutCancel(ctx)
	for i := len(tasks) - 1; i >= 0; i-- {
		t := tasks[i]
		log := ru.log.WithField("task", t.Spec.Name)
		tctx, cancel := rctx, context.CancelFunc(func() {})
		if d := ru.timeout(t); d > 0 {
			tctx, cancel = context.WithTimeout(rctx, d)
			tctx = clock.WithDeadline(tctx, ru.r.Clock.Now().Add(d))
		}
		ru.mu.Lock()
		in := ru.inputs(t)
		ru.mu.Unlock()
		var err error
		if t.Task != nil {
			err = safeRevert(tctx, t.Task, ru.env(t, log), in, cause)
		}
		cancel()
		ru.mu.Lock()
		rec := ru.record(t)
		if err != nil {
			rec.State = StateRevertFailure
			rec.Error = err.Error()
		} else {
			rec.State, rec.Progress = StateReverted, 1
		}
		snap := cloneRecord(rec)
		ru.mu.Unlock()
		if err != nil {
			log.Errorf("revert failed: %v", err)
		} else {
			log.Info("task reverted")
		}
		ru.emit(Event{Type: TaskReverted, Task: t.Spec.Name, TaskKind: t.Spec.Kind, Phase: t.Phase, Record: snap, Err: err})
	}
}

func (ru *run) emit(e Event) {
	if ru.r.Listener == nil {
		return
	}
	e.NotificationUUID = ru.req.NotificationUUID
	e.Flow = ru.req.Flow.Kind
	e.Attempt, e.AttemptItem = ru.attempt, ru.item
	ru.r.Listener.OnEvent(e)
}

func (ru *run) snapshot() []TaskRecord {
	ru.mu.Lock()
	defer ru.mu.Unlock()
	out := make([]TaskRecord, 0, len(ru.order))
	for _, n := range ru.order {
		out = append(out, cloneRecord(ru.records[n]))
	}
	return out
}

// earlyEnd rebuilds the skip or ignore a succeeded task ended its flow with
// (nil when it did not).
func (r *TaskRecord) earlyEnd() error {
	switch r.EarlyEnd {
	case "skip":
		return &SkipError{Msg: r.EarlyEndMessage}
	case "ignore":
		return &IgnoreError{Msg: r.EarlyEndMessage}
	}
	return nil
}

// cloneRecord returns a copy of r for a listener. Progress entries are only
// ever appended, so the copy shares those r has so far, without room to
// append: a task of many entries is not copied whole at each entry.
func cloneRecord(r *TaskRecord) TaskRecord {
	c := *r
	c.Details = slices.Clip(r.Details)
	return c
}

// checkFacts refuses a task's output that holds one of the notification's
// own facts (NotificationKeys).
func checkFacts(s Spec, out Store) error {
	for _, k := range NotificationKeys() {
		if _, ok := out[k]; ok {
			return fmt.Errorf("task %q provided %q, one of the notification's own facts, which no task may replace", s.Name, k)
		}
	}
	return nil
}

// checkProvides enforces the declared contract: a task provides exactly its
// declared keys, with storable values, and none of the notification's own
// facts (NotificationKeys), even declared: Plan refuses such a flow, and a
// flow built otherwise is refused here.
func checkProvides(s Spec, out Store) error {
	if err := checkFacts(s, out); err != nil {
		return err
	}
	for k, v := range out {
		if !slices.Contains(s.Provides, k) {
			return fmt.Errorf("task %q provided %q, which it does not declare in provides (%s)", s.Name, k, joinKeys(s.Provides))
		}
		n, err := Normalize(v)
		if err != nil {
			return fmt.Errorf("task %q provided %q: %w", s.Name, k, err)
		}
		out[k] = n
	}
	for _, k := range s.Provides {
		if _, ok := out[k]; !ok {
			return fmt.Errorf("task %q did not provide %q, which it declares in provides", s.Name, k)
		}
	}
	return nil
}

func safeExecute(ctx context.Context, t Task, env *Env, in Store) (out Store, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("task panicked: %v\n%s", p, debug.Stack())
		}
	}()
	out, err = t.Execute(ctx, env, in)
	if err != nil && IsEarlyEnd(err) {
		return out, err
	}
	return out, err
}

func safeRevert(ctx context.Context, t Task, env *Env, in Store, cause error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("revert panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return t.Revert(ctx, env, in, cause)
}
