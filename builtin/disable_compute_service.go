package builtin

import (
	"context"
	"errors"
	"fmt"

	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
)

// Progress messages of disable_compute_service_task. The first and last are
// Masakari's; the others report kaifuku's wait for the service to be down.
const (
	msgDisablingService   = "Disabling compute service on host: '%s'"                                          // 0.0
	msgForcingDown        = "Forcing down compute service on host: '%s'"                                       // 0.1
	msgForcedDown         = "Forced down compute service on host: '%s'"                                        // 0.5
	msgForceDownFailed    = "Could not force down compute service on host '%s': %v"                            // 0.2
	msgWaitingDown        = "Waiting for Nova to report compute service on host '%s' down before disabling it" // 0.2
	msgServiceDown        = "Nova reports compute service on host '%s' down after %.1f s"                      // 0.5
	msgServiceStillUp     = "Compute service on host '%s' still reported up after %.1f s; disabling it anyway" // 0.5
	msgServiceAlreadyDown = "Compute service on host '%s' is already disabled"                                 // 0.9
	msgDisabledService    = "Disabled compute service on host: '%s'"                                           // 1.0
)

// DisableComputeService is disable_compute_service_task: it disables the
// failed host's nova-compute service with [host_failure]
// service_disable_reason so that the scheduler stops placing servers there.
//
// Masakari disables the service at once and then sleeps
// wait_period_after_service_update (180 s). Disabling a service Nova still
// believes up makes nova-api call the dead host and wait out its RPC timeout
// (60 s), so this task first waits until Nova reports the service down
// (polling every verify_interval, wait_period_after_service_update at most),
// or forces it down when [host_failure] force_down_service is set, and only
// then disables it. When the wait times out it disables the service anyway,
// as Masakari would have. A service that is already disabled is left alone.
type DisableComputeService struct{ base }

// Execute disables the compute service of host_name.
func (t *DisableComputeService) Execute(ctx context.Context, env *engine.Env, in engine.Store) (engine.Store, error) {
	host, nova, log, err := t.beginOne(env, in, engine.KeyHostName, "host")
	if err != nil {
		return nil, err
	}
	env.Progress(fmt.Sprintf(msgDisablingService, host), 0.0)

	svc, err := findService(ctx, nova, host, novaCompute)
	if err != nil {
		return nil, err
	}
	if t.opt.host.ForceDownService && svc.State != serviceDown && !svc.ForcedDown {
		env.Progress(fmt.Sprintf(msgForcingDown, host), 0.1)
		up, err := nova.UpdateService(ctx, svc.ID, compute.ServiceUpdate{ForcedDown: new(true)})
		switch {
		case err == nil:
			svc = up
			env.Progress(fmt.Sprintf(msgForcedDown, host), 0.5)
			log.Info("forced down the compute service of the failed host")
		case ctx.Err() != nil:
			return nil, fmt.Errorf("force down compute service on host %q: %w", host, err)
		default:
			// Waiting still spares the RPC timeout; never recover worse than
			// Masakari because a policy or an old Nova refuses forced_down.
			env.Progress(fmt.Sprintf(msgForceDownFailed, host, err), 0.2)
			log.Warnf("could not force down the compute service of the failed host, waiting for Nova to report it down: %v", err)
		}
	}
	if svc.State != serviceDown {
		if svc, err = t.waitDown(ctx, env, nova, host, svc); err != nil {
			return nil, err
		}
	}
	if svc.Status == serviceDisabled {
		env.Progress(fmt.Sprintf(msgServiceAlreadyDown, host), 0.9)
		log.Info("compute service of the failed host is already disabled")
	} else {
		if _, err := nova.UpdateService(ctx, svc.ID, compute.ServiceUpdate{
			Status:         new(serviceDisabled),
			DisabledReason: t.opt.host.ServiceDisableReason,
		}); err != nil {
			return nil, fmt.Errorf("disable compute service on host %q: %w", host, err)
		}
		log.Info("disabled the compute service of the failed host")
	}
	env.Progress(fmt.Sprintf(msgDisabledService, host), 1.0)
	return nil, nil
}

// waitDown polls the service until Nova reports it down. On timeout it logs
// a warning and returns the last state read, so the caller disables anyway.
func (t *DisableComputeService) waitDown(ctx context.Context, env *engine.Env, nova compute.Cloud, host string, svc compute.Service) (compute.Service, error) {
	clk := envClock(env)
	log := envLog(env).WithField("host", host)
	env.Progress(fmt.Sprintf(msgWaitingDown, host), 0.2)
	start := clk.Now()
	err := poll(ctx, clk, t.opt.verifyInterval, t.opt.afterServiceUpdate, func(ctx context.Context) (bool, error) {
		s, err := findService(ctx, nova, host, novaCompute)
		if err != nil {
			return false, err
		}
		svc = s
		return s.State == serviceDown, nil
	})
	waited := clk.Now().Sub(start).Seconds()
	switch {
	case err == nil:
		env.Progress(fmt.Sprintf(msgServiceDown, host, waited), 0.5)
		log.Infof("Nova reports the compute service of the failed host down after %.1f s", waited)
		return svc, nil
	case errors.Is(err, errTimeout):
		env.Progress(fmt.Sprintf(msgServiceStillUp, host, waited), 0.5)
		log.Warnf("Nova still reports the compute service of the failed host up after %.1f s (wait_period_after_service_update); disabling it anyway", waited)
		return svc, nil
	default:
		return svc, fmt.Errorf("wait for compute service on host %q to be down: %w", host, err)
	}
}
