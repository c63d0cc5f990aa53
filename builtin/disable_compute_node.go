package builtin

import (
	"context"
	"fmt"

	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
)

// Progress messages of disable_compute_node_task (Masakari's).
const (
	msgDisablingNode       = "Disabling compute service on host: '%s'"                    // 0.0
	msgDisabledNode        = "Disabled compute service on host: '%s'"                     // 1.0
	msgNodeAlreadyDisabled = "Skipping recovery for process %s as it is already disabled" // 1.0
)

// DisableComputeNode is disable_compute_node_task: when the service of
// process_name on host_name is not disabled yet, it disables the host's
// nova-compute service with [process_failure] service_disable_reason.
type DisableComputeNode struct{ base }

// Execute disables the compute service of host_name.
func (t *DisableComputeNode) Execute(ctx context.Context, env *engine.Env, in engine.Store) (engine.Store, error) {
	v, nova, err := t.begin(in, engine.KeyProcessName, engine.KeyHostName)
	if err != nil {
		return nil, err
	}
	process, host := v[0], v[1]
	env.Progress(fmt.Sprintf(msgDisablingNode, host), 0.0)
	svc, err := findService(ctx, nova, host, process)
	if err != nil {
		return nil, err
	}
	if svc.Status == serviceDisabled {
		msg := fmt.Sprintf(msgNodeAlreadyDisabled, process)
		envLog(env).Info(msg)
		env.Progress(msg, 1.0)
		return nil, nil
	}
	// Masakari disables nova-compute whatever the process; only nova-compute
	// failures reach this flow, so the service read above is normally it.
	if process != novaCompute {
		if svc, err = findService(ctx, nova, host, novaCompute); err != nil {
			return nil, err
		}
	}
	up := compute.ServiceUpdate{Status: new(serviceDisabled), DisabledReason: t.opt.process.ServiceDisableReason}
	if _, err := nova.UpdateService(ctx, svc.ID, up); err != nil {
		return nil, fmt.Errorf("disable compute service on host %q: %w", host, err)
	}
	env.Progress(fmt.Sprintf(msgDisabledNode, host), 1.0)
	return nil, nil
}
