package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/kaifuku-ha/kaifuku/conf"
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
			cfg, cfgErr := loadConfig(files)
			if cfg == nil {
				return exitCode(configExit(cfgErr), cfgErr)
			}
			// An invalid configuration still goes on to the scripts and
			// the flows (with the options that parsed), so that one run
			// reports every problem of every file.
			s, err := buildSetup(cfg, engineParts{Log: log})
			// The daemon refuses a simulated cloud's fixture that does
			// not load; so does check. (A nova driver is not contacted.)
			var fxErr error
			if d := cfg.Compute.Driver; (d == "" || d == "simulated") && cfg.Compute.Fixture != "" {
				_, fxErr = buildCloud(context.Background(), cfg, clock.Real{}, logrus.StandardLogger())
			}
			if cfgErr != nil || err != nil || fxErr != nil {
				return exitCode(1, sortedProblems(cfg.Files, cfgErr, err, fxErr))
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

// sortedProblems joins every problem of errs, each once, ordered by
// position: the configuration files in reading order, then the other files
// (scripts) by name, each by line and column. Problems without a position
// keep their order, after the rest.
func sortedProblems(files []string, errs ...error) error {
	all := uniqueErrors(errors.Join(errs...))
	rank := map[string]int{}
	for i, f := range files {
		if _, ok := rank[f]; !ok {
			rank[f] = i
		}
	}
	type key struct {
		rank      int
		file      string
		line, col int
	}
	keyOf := func(e error) key {
		p, ok := problemPos(e)
		if !ok {
			return key{rank: len(files) + 1}
		}
		r, ok := rank[p.File]
		if !ok {
			r = len(files)
		}
		return key{r, p.File, p.Line, p.Col}
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := keyOf(all[i]), keyOf(all[j])
		if a.rank != b.rank {
			return a.rank < b.rank
		}
		if a.file != b.file {
			return a.file < b.file
		}
		if a.line != b.line {
			return a.line < b.line
		}
		return a.col < b.col
	})
	return errors.Join(all...)
}

// posPrefix is the "FILE:LINE[:COL]: " a script's error starts with.
var posPrefix = regexp.MustCompile(`^([^\s:]+):(\d+)(?::(\d+))?: `)

// problemPos is where a problem is: a *conf.Error's own position, else the
// position its message starts with.
func problemPos(err error) (conf.Pos, bool) {
	var ce *conf.Error
	if errors.As(err, &ce) && ce.Pos.File != "" {
		return ce.Pos, true
	}
	m := posPrefix.FindStringSubmatch(err.Error())
	if m == nil {
		return conf.Pos{}, false
	}
	line, _ := strconv.Atoi(m[2])
	col, _ := strconv.Atoi(m[3])
	return conf.Pos{File: m[1], Line: line, Col: col}, true
}
