package builtin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/kaifuku-ha/kaifuku/engine/fence"
)

// FenceHostName is the configured name of kaifuku's fencing task.
const FenceHostName = fence.TaskName

// Progress messages of fence_host_task.
const (
	msgFencing          = "Fencing host '%s'"                                                           // 0.0
	msgNotFenced        = "Host '%s' has no fencing device and [fencing] required is false; not fenced" // 1.0
	msgPowerIs          = "Power of host '%s' is %s"                                                    // 0.2
	msgPoweringOff      = "Powering off host '%s'"                                                      // 0.3
	msgPoweredOff       = "Host '%s' is powered off"                                                    // 0.7
	msgFencedForcedDown = "Forced down compute service on fenced host: '%s'"                            // 1.0
	msgFencedAlreadyDn  = "Compute service on fenced host '%s' is already forced down"                  // 1.0
	msgFencedNoForce    = "Could not force down compute service on fenced host '%s': %v"                // 1.0
)

// FenceHost is fence_host_task: it powers the failed host off through its
// fencing device and confirms it, then forces the host's compute service
// down in Nova. Operators put it in the pre phase of the host flows, before
// disable_compute_service_task. If the host cannot be fenced the task fails,
// so the recovery stops before anything of the host is disabled or
// evacuated: its servers may still run there (see package fence for why).
//
// It reads the power state first (a host already off is fenced at once),
// powers it off (the device confirms), and reads the state again. Each
// device call is bounded by [fencing] timeout. A failure to force the
// service down once the host is off is only reported:
// disable_compute_service_task then waits for Nova, as it does without
// fencing. Revert powers nothing back on.
type FenceHost struct {
	base
	fencer   fence.Fencer
	required bool
	timeout  time.Duration
}

var _ engine.Task = (*FenceHost)(nil)

// newFenceHost builds the task's fencer: the fence agents of the
// [fencing:HOST] sections, and for other hosts the cloud's own devices when
// it has them (the simulated cloud's BMCs).
func newFenceHost(b base, deps Deps) *FenceHost {
	cfg := deps.Config
	if cfg == nil {
		cfg = conf.Defaults()
	}
	f := deps.Fencer
	if f == nil {
		var fallback fence.Fencer
		if d, ok := deps.Cloud.(fence.Devices); ok {
			fallback = d.Fencer()
		}
		f = fence.For(fence.NewAgents(cfg.Fencing), fallback)
	}
	return &FenceHost{base: b, fencer: f, required: cfg.Fencing.Required, timeout: cfg.Fencing.Timeout}
}

// Execute fences host_name.
func (t *FenceHost) Execute(ctx context.Context, env *engine.Env, in engine.Store) (engine.Store, error) {
	host, nova, log, err := t.beginOne(env, in, engine.KeyHostName, "host")
	if err != nil {
		return nil, err
	}
	env.Progress(fmt.Sprintf(msgFencing, host), 0.0)

	power, err := t.status(ctx, host)
	if errors.Is(err, fence.ErrNotConfigured) && !t.required {
		env.Progress(fmt.Sprintf(msgNotFenced, host), 1.0)
		log.Warn("the failed host has no fencing device; recovering it unfenced ([fencing] required = false)")
		return nil, nil
	}
	if err != nil {
		return nil, t.failed(env, host, "cannot read its power state", err)
	}
	env.Progress(fmt.Sprintf(msgPowerIs, host, power), 0.2)
	if power != fence.PowerOff {
		env.Progress(fmt.Sprintf(msgPoweringOff, host), 0.3)
		if err := t.call(ctx, func(ctx context.Context) error { return t.fencer.Off(ctx, host) }); err != nil {
			return nil, t.failed(env, host, "power off failed", err)
		}
		// The device confirmed; read it back all the same, as a second
		// opinion, before anything is evacuated.
		power, err = t.status(ctx, host)
		if err != nil {
			return nil, t.failed(env, host, "cannot read its power state after power off", err)
		}
		if power != fence.PowerOff {
			return nil, t.failed(env, host, "power off failed", fmt.Errorf("the device reports the power %s after powering it off", power))
		}
	}
	env.Progress(fmt.Sprintf(msgPoweredOff, host), 0.7)
	log.Info("fenced the failed host: its power is off")

	svc, err := findService(ctx, nova, host, novaCompute)
	if err == nil && svc.ForcedDown {
		env.Progress(fmt.Sprintf(msgFencedAlreadyDn, host), 1.0)
		return nil, nil
	}
	if err == nil {
		_, err = nova.UpdateService(ctx, svc.ID, compute.ServiceUpdate{ForcedDown: new(true)})
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("force down compute service on host %q: %w", host, err)
		}
		// The host is off: recovering it is safe, only slower.
		env.Progress(fmt.Sprintf(msgFencedNoForce, host, err), 1.0)
		log.Warnf("could not force down the compute service of the fenced host: %v", err)
		return nil, nil
	}
	env.Progress(fmt.Sprintf(msgFencedForcedDown, host), 1.0)
	log.Info("forced down the compute service of the fenced host")
	return nil, nil
}

func (t *FenceHost) status(ctx context.Context, host string) (fence.Power, error) {
	var p fence.Power
	err := t.call(ctx, func(ctx context.Context) error {
		var err error
		p, err = t.fencer.Status(ctx, host)
		return err
	})
	return p, err
}

// call bounds one device call by [fencing] timeout.
func (t *FenceHost) call(ctx context.Context, f func(context.Context) error) error {
	if t.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.timeout)
		defer cancel()
	}
	err := f(ctx)
	if err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		return fmt.Errorf("no answer within [fencing] timeout (%v)", t.timeout)
	}
	return err
}

// failed is the task's failure: the notification ends in error and the
// recovery is retried later; nothing of the host has been touched.
func (t *FenceHost) failed(env *engine.Env, host, what string, err error) error {
	envLog(env).WithField("host", host).Errorf("fencing the failed host failed (%s); stopping its recovery before anything is disabled or evacuated: %v", what, err)
	return engine.Fail("Failed to fence host '%s' (%s), so it is not recovered: %v", host, what, err)
}
