package builtin

import (
	"context"
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

// Execute waits for instance_uuid to be active.
func (t *ConfirmInstanceActive) Execute(ctx context.Context, env *engine.Env, in engine.Store) (engine.Store, error) {
	v, nova, err := t.begin(in, engine.KeyInstanceUUID)
	if err != nil {
		return nil, err
	}
	id := v[0]
	env.Progress(fmt.Sprintf(msgConfirmingActive, id), 0.0)
	if err := t.confirmOrFail(ctx, env, t.opt.afterPowerOn, fmt.Sprintf(msgStartFailed, id), inVMState(nova, id, vmActive)); err != nil {
		return nil, err
	}
	env.Progress(fmt.Sprintf(msgConfirmedActive, id), 1.0)
	return nil, nil
}
