package builtin

import (
	"context"

	"github.com/kaifuku-ha/kaifuku/engine"
)

// Noop is no_op: it only logs, records no progress and so never appears in
// recovery_workflow_details. Operators use it to fill a phase.
type Noop struct{}

// Execute logs Masakari's line.
func (Noop) Execute(_ context.Context, env *engine.Env, _ engine.Store) (engine.Store, error) {
	envLog(env).Info("Custom task executed successfully..!!")
	return nil, nil
}

// Revert does nothing.
func (Noop) Revert(context.Context, *engine.Env, engine.Store, error) error { return nil }
