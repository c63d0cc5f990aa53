package builtin

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/sirupsen/logrus"
)

// Progress messages of evacuate_instances_task (Masakari's).
const (
	msgStartEvacuation         = "Start evacuation of instances from failed host '%s', instance uuids are: '%s'" // 0.0
	msgEnablingReserved        = "Enabling reserved host: '%s'"                                                  // 0.1
	msgAddToAggregate          = "Add host %s to aggregate %s"                                                   // 0.2
	msgAddedToAggregate        = "Added host %s to aggregate %s"                                                 // 0.3
	msgAlreadyInAggregate      = "Host '%s' already has been added to aggregate '%s'."                           // 1.0
	msgEvacuationStartedPrefix = "Evacuation of instance started: '"                                             // and the id, quoted: 0.5
	msgEvacuated               = "Successfully evacuate instances '%s' from host '%s'"                           // 0.7
	msgEvacuationFailed        = "Failed to evacuate instances '%s' from host '%s'"                              // 0.7
	msgEvacuationDone          = "Evacuation process completed!"                                                 // 1.0
)

// taskRebuilding is the task_state of a server Nova is evacuating (or
// rebuilding).
const taskRebuilding = "rebuilding"

// LockHeldError is Masakari's LockAlreadyAcquired: another flow is using the
// reserved host. In the reserved-host flow the recovery then tries the next
// reserved host.
type LockHeldError struct{ Host string }

func (e *LockHeldError) Error() string { return "Lock is already acquired on " + e.Host + "." }

// Unwrap lets errors.Is(err, engine.ErrLockHeld) match.
func (e *LockHeldError) Unwrap() error { return engine.ErrLockHeld }

// EvacuateInstances is evacuate_instances_task: it evacuates the servers of
// instance_list from the failed host host_name, up to
// host_failure_recovery_threads at a time, each locked while it moves.
// With reserved_host (the reserved-host flow) it first claims the reserved
// host (Env.Claims), adds it to the failed host's aggregates
// ([host_failure] add_reserved_host_to_aggregate), enables its compute
// service and marks it as no longer reserved, then evacuates to it. Any
// server that could not be evacuated fails the task (HostRecoveryFailure).
type EvacuateInstances struct{ base }

// Execute evacuates instance_list.
func (t *EvacuateInstances) Execute(ctx context.Context, env *engine.Env, in engine.Store) (engine.Store, error) {
	host, err := in.String(engine.KeyHostName)
	if err != nil {
		return nil, err
	}
	ids, err := in.Strings(KeyInstanceList)
	if err != nil {
		return nil, err
	}
	rh := ""
	if v, ok := in[engine.KeyReservedHost]; ok && v != nil {
		if rh, err = in.String(engine.KeyReservedHost); err != nil {
			return nil, err
		}
	}
	nova, err := t.nova()
	if err != nil {
		return nil, err
	}
	env.Progress(fmt.Sprintf(msgStartEvacuation, host, strings.Join(ids, ",")), 0.0)
	addVMoves(env, host, ids)

	if rh != "" {
		if env.Claims != nil {
			release, err := env.Claims.ClaimReservedHost(ctx, env.NotificationUUID, rh)
			if errors.Is(err, engine.ErrLockHeld) {
				return nil, &LockHeldError{Host: rh}
			}
			if err != nil {
				return nil, fmt.Errorf("lock reserved host %q: %w", rh, err)
			}
			defer release()
		}
		if err := t.prepareReservedHost(ctx, env, nova, host, rh); err != nil {
			return nil, err
		}
	}

	errs, err := t.evacuateAll(ctx, env, nova, host, rh, ids)
	if err != nil {
		return nil, err
	}
	var done, failed []string
	for i, id := range ids {
		if errs[i] != nil {
			failed = append(failed, id)
		} else {
			done = append(done, id)
		}
	}
	if len(done) > 0 {
		sort.Strings(done)
		env.Progress(fmt.Sprintf(msgEvacuated, strings.Join(done, ","), host), 0.7)
	}
	if len(failed) > 0 {
		msg := fmt.Sprintf(msgEvacuationFailed, strings.Join(failed, ","), host)
		env.Progress(msg, 0.7)
		return nil, engine.Fail("%s", msg)
	}
	env.Progress(msgEvacuationDone, 1.0)
	return nil, nil
}

// prepareReservedHost readies the reserved host before any evacuation. It is
// not undone if the evacuation then fails, as in Masakari.
func (t *EvacuateInstances) prepareReservedHost(ctx context.Context, env *engine.Env, nova compute.Cloud, host, rh string) error {
	log := envLog(env).WithField("reserved_host", rh)
	env.Progress(fmt.Sprintf(msgEnablingReserved, rh), 0.1)
	if t.opt.host.AddReservedHostToAggregate {
		aggs, err := nova.ListAggregates(ctx)
		if err != nil {
			return fmt.Errorf("list aggregates: %w", err)
		}
		for _, a := range aggs {
			if !slices.Contains(a.Hosts, host) {
				continue
			}
			env.Progress(fmt.Sprintf(msgAddToAggregate, rh, a.Name), 0.2)
			err := nova.AddHostToAggregate(ctx, a.ID, rh)
			if errors.Is(err, compute.ErrConflict) {
				msg := fmt.Sprintf(msgAlreadyInAggregate, rh, a.Name)
				env.Progress(msg, 1.0)
				log.Info(msg)
				continue
			}
			if err != nil {
				return fmt.Errorf("add host %q to aggregate %q: %w", rh, a.Name, err)
			}
			env.Progress(fmt.Sprintf(msgAddedToAggregate, rh, a.Name), 0.3)
		}
	}
	svc, err := findService(ctx, nova, rh, novaCompute)
	if err != nil {
		return err
	}
	if svc.Status != serviceEnabled {
		if _, err := nova.UpdateService(ctx, svc.ID, compute.ServiceUpdate{Status: new(serviceEnabled)}); err != nil {
			return fmt.Errorf("enable compute service on reserved host %q: %w", rh, err)
		}
	}
	log.Info("enabled the compute service of the reserved host")
	if env.Hosts != nil {
		if err := env.Hosts.SetReserved(ctx, rh, false); err != nil {
			return fmt.Errorf("mark host %q as no longer reserved: %w", rh, err)
		}
	}
	return nil
}

// evacuateAll evacuates every server, at most host_failure_recovery_threads
// at a time, and returns one error (nil on success) per server. Failures of
// single servers are logged and returned in the slice; the error is set only
// when the task itself was cancelled or ran out of time (the servers whose
// turn came after that were not evacuated).
func (t *EvacuateInstances) evacuateAll(ctx context.Context, env *engine.Env, nova compute.Cloud, host, rh string, ids []string) ([]error, error) {
	log := envLog(env)
	errs := make([]error, len(ids))
	// One confirmer for the host: the evacuations share its list calls,
	// starting from the host's list.
	batch := newConfirmer(nova, envClock(env), t.opt.verifyInterval)
	he := &hostEvacuation{nova: nova, batch: batch, host: host, rh: rh, cleanup: cleanupContext(ctx)}
	if len(ids) > 0 {
		listed := envClock(env).Now()
		if list, err := nova.ListServers(ctx, host); err != nil {
			log.Warnf("could not list the servers of host %s, each is read on its own: %v", host, err)
		} else {
			batch.know(list, listed)
		}
	}
	// On a dry run's discrete-event clock the evacuations overlap in
	// virtual time as they do on the wall clock (see clock.Each).
	started := func(i int) {
		// Not Sprintf: this line is made per server.
		env.Progress(msgEvacuationStartedPrefix+ids[i]+"'", 0.5)
	}
	clock.Each(ctx, envClock(env), t.opt.threads, len(ids), started, func(ctx context.Context, i int) {
		if errs[i] = t.evacuateOne(ctx, env, he, ids[i]); errs[i] != nil {
			log.WithField("instance_uuid", ids[i]).Warnf("evacuation failed: %v", errs[i])
		}
	})
	if err := interrupted(ctx, envClock(env)); err != nil {
		return nil, fmt.Errorf("evacuate instances from host %q: %w", host, err)
	}
	return errs, nil
}

// interrupted reports whether the task's context ended or its deadline on the
// (possibly virtual) clock passed.
func interrupted(ctx context.Context, clk clock.Clock) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := clock.Deadline(ctx); ok && !clk.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

// hostEvacuation is what the evacuations of one host's servers share.
type hostEvacuation struct {
	nova     compute.Cloud
	batch    *confirmer
	host, rh string // the failed host; the reserved host, or ""
	// cleanup is the context of the unlocks after the evacuations.
	cleanup context.Context
}

// cleanupContext is the context of the calls that clean up after a task
// (the unlock of a server after its evacuation): they run even when the
// task was cancelled or ran out of time, so it keeps ctx's values but not
// its cancellation or clock deadline. Each call is bounded by the compute
// client's own request timeout (and, on the simulated cloud, by its
// latencies). It is made once per task, not per server.
func cleanupContext(ctx context.Context) context.Context {
	return clock.WithoutDeadline(context.WithoutCancel(ctx))
}

// evacuateOne is Masakari's _evacuate_and_confirm for one server. Nothing it
// does escapes as a panic; every failure is its return value.
func (t *EvacuateInstances) evacuateOne(ctx context.Context, env *engine.Env, he *hostEvacuation, id string) (err error) {
	nova, batch, host, rh := he.nova, he.batch, he.host, he.rh
	vmove := &vmoveRecord{ctx: ctx, env: env, id: id}
	defer vmove.finish(&err) // runs last, after a panic became err
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("evacuation of server %s panicked: %v\n%s", id, p, debug.Stack())
		}
	}()
	clk := envClock(env)
	log := serverLog{base: envLog(env), id: id}
	srv, err := batch.current(ctx, id)
	if err != nil {
		return err
	}
	vmove.name = srv.Name
	// A locked server is ours when this recovery recorded its lock before
	// the daemon stopped; otherwise someone else locked it.
	ours, err := ownLock(ctx, env, srv)
	if err != nil {
		return err
	}
	if srv.Host != "" && srv.Host != host {
		vmove.dest = srv.Host
		// No longer on the failed host (instance_list was read before a
		// restart and this task is run again): it was moved already, and
		// Nova refuses to evacuate a server whose host is up.
		log.info(srv.Host, "server no longer on the failed host; not evacuated again")
		if ours {
			unlockServer(he.cleanup, env, nova, log, id)
		}
		return nil
	}
	if env.Evacuations != nil {
		// The engine's bound on evacuations in flight across every host
		// being recovered ([compute] max_concurrent_evacuations).
		release, err := env.Evacuations.Acquire(ctx, host, truthy(srv.Metadata, t.opt.host.HAEnabledInstanceMetadataKey))
		if err != nil {
			return fmt.Errorf("wait for an evacuation slot for server %s: %w", id, err)
		}
		defer release()
	}
	if !srv.Locked || ours {
		// Keep users away from the server until it is recovered; a server the
		// user locked stays locked and is not unlocked afterwards. A lock of
		// ours left by a stopped daemon is kept until the evacuation ends.
		if !ours {
			if err := lockServer(ctx, env, nova, id); err != nil {
				return err
			}
		}
		defer unlockServer(he.cleanup, env, nova, log, id)
	}

	vm, task := srv.VMState, srv.TaskState
	stopAfter := true
	if task == taskRebuilding && (vm == vmActive || vm == vmStopped || vm == vmError) {
		// Unlike Masakari (which resets any server with a
		// task to error and evacuates it again): a server still on the
		// failed host and rebuilding is most likely an evacuation this task
		// started before the daemon stopped. Evacuating it again would race
		// the one under way (Nova may refuse it, and in the reserved-host
		// flow a failure uses up the next reserved host), so it is waited
		// for with the usual confirmation and then given the usual
		// post-steps. Its vm_state before that evacuation is unknown: a
		// server in error is stopped and put back in error, an active or
		// stopped one is left as Nova rebuilds it. If it does not move
		// within wait_period_after_evacuation (a rebuild stuck on the dead
		// host), it is handled as Masakari does.
		vmove.start()
		dest, err := t.confirm(ctx, clk, nova, batch, id, host, vm)
		switch {
		case err == nil:
			vmove.dest = dest
			log.info(dest, "evacuation already under way confirmed; not evacuated again")
			return t.afterEvacuation(ctx, clk, nova, log, id, vm, vm == vmError, dest)
		case errors.Is(err, errTimeout):
			log.entry().Warn("server still rebuilding on the failed host after wait_period_after_evacuation; evacuating it again")
		default:
			return err
		}
	}
	switch {
	case vm != vmActive && vm != vmError && vm != vmStopped:
		// Nova evacuates only active, stopped and error servers.
		if srv, err = t.resetToError(ctx, nova, id); err != nil {
			return err
		}
		if vm == vmResized && srv.PowerState != compute.PowerShutdown {
			stopAfter = false
		}
	case vm == vmStopped && task == "":
		// Nova rebuilds it stopped.
		stopAfter = false
	case task != "":
		// Nova refuses to evacuate a server with a task in progress.
		if srv, err = t.resetToError(ctx, nova, id); err != nil {
			return err
		}
		if vm == vmActive {
			stopAfter = false
		}
	}

	vmove.start()
	// Watched from before the call, so that the lists reach back to it.
	defer batch.forget(batch.watch(id))
	if err := nova.Evacuate(ctx, id, rh); err != nil {
		return fmt.Errorf("evacuate server %s: %w", id, err)
	}
	dest, err := t.confirm(ctx, clk, nova, batch, id, host, srv.VMState)
	if errors.Is(err, errTimeout) {
		return fmt.Errorf("server %s not evacuated within wait_period_after_evacuation (%s)", id, t.opt.afterEvacuation)
	}
	if err != nil {
		return err
	}
	vmove.dest = dest
	return t.afterEvacuation(ctx, clk, nova, log, id, vm, stopAfter, dest)
}

// serverLog is the log of one server's evacuation. Its entry, which carries
// the server's id, is made only for a line that is written: a host's
// recovery logs nothing per server at warning level, and making the entries
// anyway was a tenth of its cost.
type serverLog struct {
	base *logrus.Entry
	id   string
}

func (l serverLog) entry() *logrus.Entry { return l.base.WithField("instance_uuid", l.id) }

// info logs msg about the server, now on host dest, at info level.
func (l serverLog) info(dest, msg string) {
	if l.base.Logger.IsLevelEnabled(logrus.InfoLevel) {
		l.entry().WithField("dest_host", dest).Info(msg)
	}
}

// ownLock reports whether srv is locked by this notification's recovery: its
// lock is recorded in Env.ServerLocks.
func ownLock(ctx context.Context, env *engine.Env, srv compute.Server) (bool, error) {
	if !srv.Locked || env.ServerLocks == nil {
		return false, nil
	}
	ids, err := env.ServerLocks.ServerLocks(ctx, env.NotificationUUID)
	if err != nil {
		return false, fmt.Errorf("server %s is locked: %w", srv.ID, err)
	}
	return slices.Contains(ids, srv.ID), nil
}

// lockServer locks a server in Nova, recording the lock (Env.ServerLocks)
// before it asks for it: a daemon that dies between the two leaves a record
// of a lock that may not exist, which is harmless to release, rather than a
// lock nobody remembers.
func lockServer(ctx context.Context, env *engine.Env, nova compute.Cloud, id string) error {
	locks := env.ServerLocks
	if locks != nil {
		if err := locks.RecordServerLock(ctx, env.NotificationUUID, id); err != nil {
			return err
		}
	}
	if err := nova.Lock(ctx, id); err != nil {
		if locks != nil {
			// A refused lock is not ours: were the record kept, the
			// notification's end would unlock a server someone else may
			// have locked meanwhile.
			locks.ForgetServerLock(env.NotificationUUID, id, nil)
		}
		return fmt.Errorf("lock server %s: %w", id, err)
	}
	return nil
}

// unlockServer unlocks a server this recovery locked and forgets the record
// of its lock, on cleanup (cleanupContext). A failed unlock keeps the
// record, for the notification's end to release.
func unlockServer(cleanup context.Context, env *engine.Env, nova compute.Cloud, log serverLog, id string) {
	if err := nova.Unlock(cleanup, id); err != nil {
		log.entry().Errorf("could not unlock server after its evacuation: %v", err)
		return
	}
	if locks := env.ServerLocks; locks != nil {
		locks.ForgetServerLock(env.NotificationUUID, id, func(err error) {
			log.entry().Errorf("server unlocked, but the record of its lock stays: %v", err)
		})
	}
}

// confirm waits until a server being evacuated from host runs elsewhere
// (Masakari's confirmation after an evacuation); old is its vm_state when
// the evacuation was asked for. It reads the server through batch's shared
// lists, on poll's schedule aligned to batch's rounds, and between its own
// checks judges whatever the rounds other evacuations made showed of it; a
// server no list has shown after a verify_interval is read on its own. It
// returns the destination, or errTimeout after wait_period_after_evacuation.
func (t *EvacuateInstances) confirm(ctx context.Context, clk clock.Clock, nova compute.Cloud, batch *confirmer, id, host, old string) (string, error) {
	key := batch.watch(id)
	defer batch.forget(key)
	start := clk.Now()
	sched := newSchedule(start, t.opt.verifyInterval)
	var judged time.Time // the round of the newest sighting judged
	judge := func(s sighting) (string, bool, error) {
		judged = s.at
		return evacuatedTo(s.srv, id, host, old)
	}
	// Nothing is done at once after the call: the first look is the next
	// round.
	at := batch.align(start)
	for {
		for now := clk.Now(); now.Before(at); now = clk.Now() {
			if err := clk.Sleep(ctx, minTime(batch.next(now), at).Sub(now)); err != nil {
				return "", err
			}
			if s, ok := batch.peek(key); ok && s.at.After(judged) {
				if dest, done, err := judge(s); done || err != nil {
					return dest, err
				}
			}
		}
		began := clk.Now()
		s, seen, err := batch.read(ctx, key, at)
		if err != nil {
			return "", err
		}
		if !seen && began.Sub(start) >= t.opt.verifyInterval {
			srv, err := getServer(ctx, nova, id)
			if err != nil {
				return "", err
			}
			s.srv = &srv
			s.at, seen = began, true
		}
		if seen {
			if dest, done, err := judge(s); done || err != nil {
				return dest, err
			}
		}
		now := clk.Now()
		if now.Sub(start) >= t.opt.afterEvacuation {
			return "", errTimeout
		}
		at = batch.align(now.Add(sched.pause(began, now)))
	}
}

// evacuatedTo judges cur, the state of server id being evacuated from host
// whose vm_state was old when it was asked for: done with the destination
// once it runs elsewhere, an error once it was deleted or went to error.
func evacuatedTo(cur *compute.Server, id, host, old string) (dest string, done bool, err error) {
	if strings.EqualFold(cur.Status, "DELETED") {
		// A list of changes shows deleted servers too, where a read of the
		// server would have been refused.
		return "", false, fmt.Errorf("server %s deleted while being evacuated: %w", id, compute.ErrNotFound)
	}
	if cur.VMState == vmError && cur.VMState != old {
		return "", false, fmt.Errorf("server %s went to vm_state error while being evacuated", id)
	}
	if cur.HypervisorHostname != host && (old == vmError && cur.VMState == vmActive || old == cur.VMState) {
		return cur.HypervisorHostname, true, nil
	}
	return "", false, nil
}

// afterEvacuation is the post-step of an evacuated server, as Masakari's:
// a server that was not active is stopped when stopAfter
// holds, and one that was in error is put back in error.
func (t *EvacuateInstances) afterEvacuation(ctx context.Context, clk clock.Clock, nova compute.Cloud, log serverLog, id, vm string, stopAfter bool, dest string) error {
	if vm != vmActive && stopAfter {
		if err := nova.Stop(ctx, id); err != nil {
			return fmt.Errorf("stop server %s after its evacuation: %w", id, err)
		}
		err := poll(ctx, clk, t.opt.verifyInterval, t.opt.afterPowerOff, inVMState(nova, id, vmStopped))
		if errors.Is(err, errTimeout) {
			return fmt.Errorf("server %s evacuated to %s but not stopped within wait_period_after_power_off (%s)", id, dest, t.opt.afterPowerOff)
		}
		if err != nil {
			return err
		}
		// A server in error before the failure stays in error after it.
		if vm == vmError {
			if err := nova.ResetState(ctx, id, vmError); err != nil {
				return fmt.Errorf("reset server %s to error after its evacuation: %w", id, err)
			}
		}
	}
	log.info(dest, "server evacuated")
	return nil
}

// resetToError resets a server's state to error (clearing its task_state) so
// that Nova accepts to evacuate it, and reads it again.
func (t *EvacuateInstances) resetToError(ctx context.Context, nova compute.Cloud, id string) (compute.Server, error) {
	if err := nova.ResetState(ctx, id, vmError); err != nil {
		return compute.Server{}, fmt.Errorf("reset server %s to error: %w", id, err)
	}
	return getServer(ctx, nova, id)
}
