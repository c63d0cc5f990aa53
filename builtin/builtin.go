// Package builtin holds Masakari's nine recovery tasks, written in Go.
package builtin

import (
	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
)

// Deps is what the built-in tasks need: the cloud they drive and the engine
// options ([DEFAULT], [host_failure], [instance_failure], [process_failure]).
type Deps struct {
	Cloud  compute.Cloud
	Config *conf.Config
}

// Register adds the nine built-in tasks to reg.
func Register(reg *engine.Registry, deps Deps) {
	// Filled in by the built-in tasks.
	_ = reg
	_ = deps
}
