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

// poll runs check at once and then every interval, measured from the start
// of each check (oslo's FixedIntervalLoopingCall), until it reports done,
// fails, or timeout has passed since the start: then it returns errTimeout,
// as the eventlet timeout around Masakari 14.0.2's loops does. Every pause
// goes through clk.
func poll(ctx context.Context, clk clock.Clock, interval, timeout time.Duration, check func(context.Context) (bool, error)) error {
	start := clk.Now()
	for {
		began := clk.Now()
		done, err := check(ctx)
		if err != nil || done {
			return err
		}
		if clk.Now().Sub(start) >= timeout {
			return errTimeout
		}
		if err := clk.Sleep(ctx, max(interval-clk.Now().Sub(began), 0)); err != nil {
			return err
		}
	}
}

// confirmOrFail polls check every verify_interval until it holds, as poll
// does. When timeout passes first, failure becomes the task's last progress
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
