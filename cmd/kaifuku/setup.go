package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/kaifuku-ha/kaifuku/builtin"
	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/kaifuku-ha/kaifuku/engine/fence"
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

// configFileError is a --config-file that cannot be read at all: bad input
// (exit code 2) rather than an invalid configuration.
type configFileError struct {
	path string
	err  error
}

func (e *configFileError) Error() string { return fmt.Sprintf("config file %s: %v", e.path, e.err) }
func (e *configFileError) Unwrap() error { return e.err }

// configExit is the exit code of a loadConfig error for the commands whose
// job is to judge the configuration: 1 when it is invalid, 2 when a file
// named by --config-file cannot be read.
func configExit(err error) int {
	var fe *configFileError
	if errors.As(err, &fe) {
		return 2
	}
	return 1
}

// loadConfig reads the configuration files; every problem of every file is
// returned at once.
func loadConfig(files []string) (*conf.Config, error) {
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, &configFileError{path: f, err: err}
		}
		if st.IsDir() {
			return nil, &configFileError{path: f, err: errors.New("is a directory, not a file")}
		}
	}
	return conf.Load(files...)
}

// loadRunnableConfig loads files for the daemon, at its start and on
// SIGHUP. When they do not make a valid configuration, the error lists
// every problem at once, as check does: those of the files, and those of
// the scripts and flows built from the options that parsed.
func loadRunnableConfig(files []string) (*conf.Config, error) {
	cfg, err := loadConfig(files)
	if cfg == nil || err == nil {
		return cfg, err
	}
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	_, setupErr := buildSetup(cfg, engineParts{Log: quiet})
	return cfg, sortedProblems(cfg.Files, err, setupErr)
}

// buildSetup registers every task and builds the four flows from cfg. All
// problems (script errors, unknown tasks, data flow) are returned together.
func buildSetup(cfg *conf.Config, parts engineParts) (*setup, error) {
	reg := engine.NewRegistry()
	builtin.Register(reg, parts.Cloud, cfg)
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
	// Each host's fence agent options against the agent's own metadata:
	// the agents only warn about an option they do not know.
	if len(cfg.Fencing.Hosts) > 0 {
		if err := fence.Check(context.Background(), cfg.Fencing); err != nil {
			errs = append(errs, uniqueErrors(err)...)
		}
	}
	flows, err := engine.BuildAll(reg, cfg)
	if err != nil {
		errs = append(errs, uniqueErrors(err)...)
		if hint := missingScriptsHint(reg, cfg); hint != nil {
			errs = append(errs, hint)
		}
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
		if len(cfg.Unused) > 0 {
			keys := make([]string, len(cfg.Unused))
			for i, u := range cfg.Unused {
				keys[i] = fmt.Sprintf("%s [%s] %s", u.Pos, u.Section, u.Key)
			}
			parts.Log.Infof("ignoring options kaifuku does not use: %s", strings.Join(keys, ", "))
		}
	}
	return &setup{Config: cfg, Registry: reg, Flows: flows}, nil
}

// uniqueErrors flattens joined errors and drops repeated messages: a task
// with a bad settings section is refused once per flow that uses it (the
// default host flows share three tasks), but the operator needs to read it
// once.
func uniqueErrors(err error) []error {
	var out []error
	seen := map[string]bool{}
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, c := range j.Unwrap() {
				walk(c)
			}
			return
		}
		if msg := e.Error(); !seen[msg] {
			seen[msg] = true
			out = append(out, e)
		}
	}
	walk(err)
	return out
}

// missingScriptsHint explains unknown task names that are not near misses
// of known ones when the scripts directory does not exist: the flows name Lua
// tasks that could not be loaded from it.
func missingScriptsHint(reg *engine.Registry, cfg *conf.Config) error {
	dir := cfg.Lua.ScriptsDir
	if dir == "" {
		return nil
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	for _, k := range conf.FlowKinds {
		for _, phase := range cfg.Flows[k].Phases {
			for _, ref := range phase {
				// A near miss of a known name is a typo, which the
				// unknown-task error already corrects.
				if _, err := reg.Lookup(ref.Name); err != nil && ref.Name != "" && len(conf.Closest(ref.Name, reg.Names(), 3, conf.Loose)) == 0 {
					return fmt.Errorf("no Lua task was loaded: the scripts directory %s does not exist (set [DEFAULT] scripts_dir; the default is \"scripts\" beside the first config file)", relPath(dir))
				}
			}
		}
	}
	return nil
}

// relPath shows p relative to the working directory when that is shorter.
func relPath(p string) string {
	wd, err := os.Getwd()
	if err != nil || wd == string(filepath.Separator) {
		// From the root directory, "etc/kaifuku/scripts" reads as a
		// mistake; the absolute path is clearer.
		return p
	}
	if r, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}
