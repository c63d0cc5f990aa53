package builtin

import (
	"context"
	"fmt"

	"github.com/kaifuku-ha/kaifuku/engine"
)

// Progress messages of start_instance_task (Masakari's).
const (
	msgStarting     = "Starting instance: '%s'"                                                      // 0.0
	msgStarted      = "Instance started: '%s'"                                                       // 1.0
	msgInvalidState = "Invalid state for Instance %s. Expected state: 'STOPPED', Actual state: '%s'" // 1.0
)

// StartInstance is start_instance_task: it starts the stopped server without
// waiting (confirm_instance_active_task waits). A server that is not stopped
// fails the recovery.
type StartInstance struct{ base }

// Execute starts instance_uuid.
func (t *StartInstance) Execute(ctx context.Context, env *engine.Env, in engine.Store) (engine.Store, error) {
	v, nova, err := t.begin(in, engine.KeyInstanceUUID)
	if err != nil {
		return nil, err
	}
	id := v[0]
	env.Progress(fmt.Sprintf(msgStarting, id), 0.0)
	srv, err := getServer(ctx, nova, id)
	if err != nil {
		return nil, err
	}
	if srv.VMState != vmStopped {
		return nil, fail(env, fmt.Sprintf(msgInvalidState, id, srv.VMState))
	}
	if err := nova.Start(ctx, id); err != nil {
		return nil, fmt.Errorf("start server %s: %w", id, err)
	}
	env.Progress(fmt.Sprintf(msgStarted, id), 1.0)
	return nil, nil
}
