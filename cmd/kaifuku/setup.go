package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/kaifuku-ha/kaifuku/builtin"
	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/kaifuku-ha/kaifuku/engine/script"
)

// configFlags adds the repeatable --config-file flag.
func configFlags(cmd *cobra.Command, files *[]string) {
	cmd.Flags().StringArrayVar(files, "config-file", nil,
		"configuration file in Masakari's ini format; repeat it to read several, later files override earlier ones")
}

// setup is what every subcommand that runs or checks flows needs: the
// configuration, the task registry (built-in Go tasks and the operator's Lua
// scripts) and the four validated flows.
type setup struct {
	Config   *conf.Config
	Registry *engine.Registry
	Flows    map[conf.FlowKind]*engine.Flow
}

// engineParts holds the dependencies tasks are built with.
type engineParts struct {
	Cloud   compute.Cloud
	Scripts script.Options // Dir, Config and Cloud are filled in by buildSetup
	Log     *logrus.Logger
}

// loadConfig reads the configuration files; every problem of every file is
// returned at once.
func loadConfig(files []string) (*conf.Config, error) {
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("config file: %w", err)
		}
	}
	return conf.Load(files...)
}

// buildSetup registers every task and builds the four flows from cfg. All
// problems (script errors, unknown tasks, data flow) are returned together.
func buildSetup(cfg *conf.Config, parts engineParts) (*setup, error) {
	reg := engine.NewRegistry()
	builtin.Register(reg, builtin.Deps{Cloud: parts.Cloud, Config: cfg})
	opts := parts.Scripts
	opts.Dir, opts.Config, opts.Cloud = cfg.Lua.ScriptsDir, cfg, parts.Cloud
	var errs []error
	if opts.Dir != "" {
		if st, err := os.Stat(opts.Dir); err == nil && st.IsDir() {
			if err := script.Register(reg, opts); err != nil {
				errs = append(errs, err)
			}
		} else if err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("scripts directory: %w", err))
		}
	}
	flows, err := engine.BuildAll(reg, cfg)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if parts.Log != nil {
		for _, k := range conf.FlowKinds {
			for _, w := range flows[k].Warnings {
				parts.Log.Warn(w)
			}
		}
		if unclaimed := cfg.Unclaimed(reg.Names()); len(unclaimed) > 0 {
			parts.Log.Infof("ignoring sections kaifuku does not use: %s", strings.Join(unclaimed, ", "))
		}
	}
	return &setup{Config: cfg, Registry: reg, Flows: flows}, nil
}

// relPath shows p relative to the working directory when that is shorter.
func relPath(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	if r, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}
