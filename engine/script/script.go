// Package script turns the operator's Lua scripts (scripts/NAME.lua) into
// recovery tasks named NAME that run in a sandbox.
package script

import (
	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
)

// Options configures the sandbox's modules.
type Options struct {
	Dir    string
	Config *conf.Config
	Cloud  compute.Cloud
}

// Register compiles every script of opts.Dir and adds it to reg.
func Register(reg *engine.Registry, opts Options) error {
	_ = reg
	_ = opts
	return nil
}
