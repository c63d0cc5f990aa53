package builtin

import (
	"context"
	"errors"
	"fmt"

	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
)

// Progress messages of stop_instance_task (Masakari's).
const (
	msgSkipNotHA    = "Skipping recovery for instance: %s as it is not Ha_Enabled"   // 1.0
	msgIgnoredState = "Recovery of instance '%s' is ignored as it is in '%s' state." // 1.0
	msgStopping     = "Stopping instance: %s"                                        // 0.0
	msgStopConflict = "Conflict when stopping instance: %s"                          // 0.0
	msgStopped      = "Stopped instance: '%s'"                                       // 1.0
	msgStopFailed   = "Failed to stop instance %s"                                   // 1.0
)

// StopInstance is stop_instance_task: it stops the failed server and waits
// until it is stopped (wait_period_after_power_off). Servers that are not
// HA-enabled ([instance_failure] ha_enabled_instance_metadata_key) are
// skipped unless process_all_instances is set; paused and rescued servers
// are ignored (notification ignored).
type StopInstance struct{ base }

// Execute stops instance_uuid.
func (t *StopInstance) Execute(ctx context.Context, env *engine.Env, in engine.Store) (engine.Store, error) {
	id, nova, log, err := t.beginOne(env, in, engine.KeyInstanceUUID, "instance_uuid")
	if err != nil {
		return nil, err
	}
	srv, err := getServer(ctx, nova, id)
	if err != nil {
		return nil, err
	}
	if !t.opt.instance.ProcessAllInstances && !truthy(srv.Metadata, t.opt.instance.HAEnabledInstanceMetadataKey) {
		msg := fmt.Sprintf(msgSkipNotHA, id)
		log.Info(msg)
		env.Progress(msg, 1.0)
		return nil, engine.Skip("%s", msg)
	}
	vm := srv.VMState
	if vm == vmPaused || vm == vmRescued {
		msg := fmt.Sprintf(msgIgnoredState, id, vm)
		log.Warn(msg)
		env.Progress(msg, 1.0)
		return nil, engine.Ignore("%s", msg)
	}
	if vm != vmStopped {
		if vm == vmResized {
			if err := nova.ResetState(ctx, id, vmActive); err != nil {
				return nil, fmt.Errorf("reset server %s to active: %w", id, err)
			}
		}
		env.Progress(fmt.Sprintf(msgStopping, id), 0.0)
		if err := nova.Stop(ctx, id); err != nil {
			if !errors.Is(err, compute.ErrConflict) {
				return nil, fmt.Errorf("stop server %s: %w", id, err)
			}
			// Someone else may be stopping it already: fine if it is stopped.
			env.Progress(fmt.Sprintf(msgStopConflict, id), 0.0)
			cur, gerr := getServer(ctx, nova, id)
			if gerr != nil {
				return nil, gerr
			}
			if cur.VMState != vmStopped {
				return nil, fmt.Errorf("stop server %s: %w", id, err)
			}
		}
	}
	if err := t.confirmOrFail(ctx, env, t.opt.afterPowerOff, fmt.Sprintf(msgStopFailed, id), inVMState(nova, id, vmStopped)); err != nil {
		return nil, err
	}
	env.Progress(fmt.Sprintf(msgStopped, id), 1.0)
	return nil, nil
}
