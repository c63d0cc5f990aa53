package builtin

import (
	"context"
	"fmt"

	"github.com/kaifuku-ha/kaifuku/engine"
)

// Progress messages of confirm_compute_node_disabled_task (Masakari's).
const (
	msgConfirmingDisabled = "Confirming compute service is disabled on host: '%s'" // 0.0
	msgConfirmedDisabled  = "Confirmed compute service is disabled on host: '%s'"  // 1.0
	msgDisableFailed      = "Failed to disable service %s"                         // 1.0
)

// ConfirmComputeNodeDisabled is confirm_compute_node_disabled_task: it waits
// until the service of process_name on host_name is disabled
// (wait_period_after_service_update).
type ConfirmComputeNodeDisabled struct{ base }

// Execute waits for the service to be disabled.
func (t *ConfirmComputeNodeDisabled) Execute(ctx context.Context, env *engine.Env, in engine.Store) (engine.Store, error) {
	v, nova, err := t.begin(in, engine.KeyProcessName, engine.KeyHostName)
	if err != nil {
		return nil, err
	}
	process, host := v[0], v[1]
	env.Progress(fmt.Sprintf(msgConfirmingDisabled, host), 0.0)
	disabled := func(ctx context.Context) (bool, error) {
		svc, err := findService(ctx, nova, host, process)
		if err != nil {
			return false, err
		}
		return svc.Status == serviceDisabled, nil
	}
	if err := t.confirmOrFail(ctx, env, t.opt.afterServiceUpdate, fmt.Sprintf(msgDisableFailed, process), disabled); err != nil {
		return nil, err
	}
	env.Progress(fmt.Sprintf(msgConfirmedDisabled, host), 1.0)
	return nil, nil
}
