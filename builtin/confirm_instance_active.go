package builtin

import (
	"context"
	"errors"
	"fmt"

	"github.com/kaifuku-ha/kaifuku/engine"
)

// Progress messages of confirm_instance_active_task (Masakari's).
const (
	msgConfirmingActive = "Confirming instance '%s' vm_state is ACTIVE" // 0.0
	msgConfirmedActive  = "Confirmed instance '%s' vm_state is ACTIVE"  // 1.0
	msgStartFailed      = "Failed to start instance %s"                 // 1.0
)

// ConfirmInstanceActive is confirm_instance_active_task: it waits until the
// server is active (wait_period_after_power_on).
type ConfirmInstanceActive struct{ base }

var _ engine.Task = (*ConfirmInstanceActive)(nil)

// Execute waits for instance_uuid to be active.
func (t *ConfirmInstanceActive) Execute(ctx context.Context, env *engine.Env, in engine.Store) (engine.Store, error) {
	id, err := in.String(engine.KeyInstanceUUID)
	if err != nil {
		return nil, err
	}
	nova, err := t.nova()
	if err != nil {
		return nil, err
	}
	env.Progress(fmt.Sprintf(msgConfirmingActive, id), 0.0)
	err = poll(ctx, envClock(env), t.opt.verifyInterval, t.opt.afterPowerOn, func(ctx context.Context) (bool, error) {
		srv, err := nova.GetServer(ctx, id)
		if err != nil {
			return false, fmt.Errorf("get server %s: %w", id, err)
		}
		return srv.VMState == vmActive, nil
	})
	if errors.Is(err, errTimeout) {
		msg := fmt.Sprintf(msgStartFailed, id)
		env.Progress(msg, 1.0)
		return nil, engine.Fail("%s", msg)
	}
	if err != nil {
		return nil, err
	}
	env.Progress(fmt.Sprintf(msgConfirmedActive, id), 1.0)
	return nil, nil
}
