package builtin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
)

// errTimeout ends a poll whose condition did not hold in time.
var errTimeout = errors.New("timed out")

// firstPollInterval is the first pause of a poll: a fast Nova is noticed at
// once, and each check after it comes at twice the time of the one before,
// so a slow one is not hammered.
const firstPollInterval = 100 * time.Millisecond

// schedule is when a poll checks. After the check at its start come early
// checks at firstPollInterval after it, then at twice that time each (0.1,
// 0.2, 0.4, 0.8 s ...: a check is never later than the time already
// waited), the last one cut short to meet interval after the start; from there on
// every interval, measured from the start of each check (oslo's
// FixedIntervalLoopingCall), so a slow API call does not stretch it. Every
// check a poll at a fixed interval makes is thus still made, with a few
// early ones before the first; early checks a slow call has overrun are
// skipped.
type schedule struct {
	start    time.Time
	interval time.Duration
	next     time.Duration // offset from start of the next early check
	early    bool          // early checks remain
}

func newSchedule(start time.Time, interval time.Duration) *schedule {
	first := min(firstPollInterval, interval)
	return &schedule{start: start, interval: interval, next: first, early: true}
}

// pause returns how long to wait after a check that began at began and ended
// at now.
func (s *schedule) pause(began, now time.Time) time.Duration {
	for s.early && !s.start.Add(s.next).After(now) {
		if s.next >= s.interval {
			// A slow call overran the check due at interval: the checks
			// after it count from where it was due, as they would have
			// from that check.
			s.early = false
			if due := s.start.Add(s.interval); began.Before(due) {
				began = due
			}
			break
		}
		s.advance()
	}
	if !s.early {
		return max(s.interval-now.Sub(began), 0)
	}
	d := s.start.Add(s.next).Sub(now)
	s.advance()
	return d
}

func (s *schedule) advance() {
	if s.next >= s.interval {
		s.early = false
		return
	}
	s.next = min(2*s.next, s.interval)
}

// poll runs check at once and then as schedule says until it reports done,
// fails, or timeout has passed since the start: then it returns errTimeout,
// as the eventlet timeout around Masakari 14.0.2's loops does. Every pause
// goes through clk.
func poll(ctx context.Context, clk clock.Clock, interval, timeout time.Duration, check func(context.Context) (bool, error)) error {
	start := clk.Now()
	sched := newSchedule(start, interval)
	for {
		began := clk.Now()
		done, err := check(ctx)
		if err != nil || done {
			return err
		}
		now := clk.Now()
		if now.Sub(start) >= timeout {
			return errTimeout
		}
		if err := clk.Sleep(ctx, sched.pause(began, now)); err != nil {
			return err
		}
	}
}

// confirmOrFail polls check until it holds, as poll does. When timeout passes first, failure becomes the task's last progress
// and its RecoveryError, as in Masakari's confirmation loops.
func (b base) confirmOrFail(ctx context.Context, env *engine.Env, timeout time.Duration, failure string, check func(context.Context) (bool, error)) error {
	err := poll(ctx, envClock(env), b.opt.verifyInterval, timeout, check)
	if errors.Is(err, errTimeout) {
		return fail(env, failure)
	}
	return err
}

// fail reports msg as the task's last progress (1.0) and fails the task with
// it.
func fail(env *engine.Env, msg string) error {
	env.Progress(msg, 1.0)
	return engine.Fail("%s", msg)
}

// inVMState returns a poll check that holds once server id is in vm_state
// state.
func inVMState(nova compute.Cloud, id, state string) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		srv, err := getServer(ctx, nova, id)
		if err != nil {
			return false, err
		}
		return srv.VMState == state, nil
	}
}

// getServer reads server id.
func getServer(ctx context.Context, nova compute.Cloud, id string) (compute.Server, error) {
	srv, err := nova.GetServer(ctx, id)
	if err != nil {
		return compute.Server{}, fmt.Errorf("get server %s: %w", id, err)
	}
	return srv, nil
}

// truthy is oslo's strutils.bool_from_string as Masakari calls it: "1", "t",
// "true", "on", "y" and "yes", in any case and with surrounding blanks, are
// true; anything else, and a missing key, is false.
func truthy(metadata map[string]string, key string) bool {
	b, _ := conf.ParseBool(metadata[key], conf.StrutilsWords)
	return b
}

// findService returns the first service of binary on host, as Masakari's
// services.list(host, binary)[0] does.
func findService(ctx context.Context, nova compute.Cloud, host, binary string) (compute.Service, error) {
	svcs, err := nova.ListServices(ctx, host, binary)
	if err != nil {
		return compute.Service{}, fmt.Errorf("list %s services on host %q: %w", binary, host, err)
	}
	if len(svcs) == 0 {
		return compute.Service{}, fmt.Errorf("no %s service on host %q: %w", binary, host, compute.ErrNotFound)
	}
	return svcs[0], nil
}

// envClock returns the run's clock (the wall clock when a caller left it
// unset).
func envClock(env *engine.Env) clock.Clock {
	if env.Clock != nil {
		return env.Clock
	}
	return clock.Real{}
}

// envLog returns the task's logger, or one that discards.
func envLog(env *engine.Env) *logrus.Entry {
	if env.Log != nil {
		return env.Log
	}
	l := logrus.New()
	l.SetOutput(io.Discard)
	return logrus.NewEntry(l)
}
