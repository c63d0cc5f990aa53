package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/kaifuku-ha/kaifuku/engine/clock"
)

func newCheckCmd() *cobra.Command {
	var files []string
	cmd := &cobra.Command{
		Use:   "check [--config-file FILE]...",
		Short: "Validate the configuration, the Lua scripts and the four recovery flows",
		Long: `check reads the configuration files, compiles every Lua script of the
scripts directory and builds the four recovery flows, exactly as the daemon
does at start-up, and reports every problem it finds with its file and line:
syntax errors in flow options, unknown task names, a task in two phases, a
store key that no earlier task provides, bad option values, script errors,
and a [compute] fixture of the simulated cloud that does not load.

Exit codes: 0 the configuration is valid; 1 it is not (every problem is
printed); 2 bad usage, or a --config-file that cannot be read.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := logrus.New()
			log.SetOutput(cmd.ErrOrStderr())
			cfg, err := loadConfig(files)
			if err != nil {
				return exitCode(configExit(err), err)
			}
			s, err := buildSetup(cfg, engineParts{Log: log})
			// The daemon refuses a simulated cloud's fixture that does
			// not load; so does check. (A nova driver is not contacted.)
			var fxErr error
			if d := cfg.Compute.Driver; (d == "" || d == "simulated") && cfg.Compute.Fixture != "" {
				_, fxErr = buildCloud(context.Background(), cfg, clock.Real{}, logrus.StandardLogger())
			}
			if err != nil || fxErr != nil {
				return exitCode(1, errors.Join(err, fxErr))
			}
			lua := 0
			for _, n := range s.Registry.Names() {
				if sp, _ := s.Registry.Lookup(n); sp.Kind == "lua" {
					lua++
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "configuration is valid: %d file(s), 4 flows, %d tasks known (%d Lua script(s) from %s)\n",
				len(cfg.Files), len(s.Registry.Names()), lua, relPath(cfg.Lua.ScriptsDir))
			return nil
		},
	}
	configFlags(cmd, &files)
	return cmd
}
