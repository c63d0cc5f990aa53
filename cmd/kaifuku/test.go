package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"time"

	"github.com/spf13/cobra"

	"github.com/kaifuku-ha/kaifuku/builtin"
	"github.com/kaifuku-ha/kaifuku/engine/harness/luatest"
)

// testOptions are the flags of kaifuku test.
type testOptions struct {
	configFiles []string
	run         string
	verbose     bool
	junit       string
	timeout     time.Duration
}

func newTestCmd() *cobra.Command {
	var o testOptions
	cmd := &cobra.Command{
		Use:   "test [PATH]...",
		Short: "Run the Lua tests (*_test.lua) of recovery tasks and flows",
		Long: `test runs every *_test.lua file under the given files and directories
(default: the configured scripts directory). Tests are written like busted's:
describe, it, before_each, after_each, pending and assert.equals, same, truthy,
falsy, matches, has_error, is_nil. The harness global runs a task
(harness.run_task) or a whole recovery flow (harness.run_flow) through the real
engine and sandbox, on the simulated cloud, with canned HTTP responses, a
recording mailer and a fake clock: no network, no mail server, no cloud.

Tasks are looked up in the configured scripts directory when --config-file is
given, otherwise in the directory of each test file.

Each failing test prints one line with its full name, the file:line of the
failing assertion and what was expected; the last line reads "N passed,
M failed" (", K skipped" when tests are pending).

Exit codes: 0 every test passed; 1 some test failed; 2 bad usage, a test file
or script that does not load, or a bad configuration.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTests(cmd, args, o)
		},
	}
	configFlags(cmd, &o.configFiles)
	cmd.Flags().StringVar(&o.run, "run", "", "run only the tests whose full name matches this regular expression")
	cmd.Flags().BoolVarP(&o.verbose, "verbose", "v", false, "print every test with the logs, progress, HTTP requests and mails of the tasks it ran")
	cmd.Flags().StringVar(&o.junit, "junit", "", "write a JUnit XML report to this file (for CI systems)")
	cmd.Flags().DurationVar(&o.timeout, "timeout", time.Minute, "stop a test that runs longer than this in real time")
	return cmd
}

func runTests(cmd *cobra.Command, args []string, o testOptions) error {
	opts := luatest.Options{Paths: args, Verbose: o.verbose, Timeout: o.timeout, Builtins: builtin.Register, Out: cmd.OutOrStdout()}
	if o.run != "" {
		re, err := regexp.Compile(o.run)
		if err != nil {
			return exitCode(2, fmt.Errorf("--run: %w", err))
		}
		opts.Run = re
	}
	cfg, err := loadConfig(o.configFiles)
	if err != nil {
		return exitCode(2, err)
	}
	opts.Config = cfg
	if len(o.configFiles) > 0 {
		opts.ScriptsDir = cfg.Lua.ScriptsDir
	}
	if len(opts.Paths) == 0 {
		dir := relPath(cfg.Lua.ScriptsDir)
		if dir == "" {
			dir = "scripts"
		}
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			return exitCode(2, fmt.Errorf("no test path given and the scripts directory %s does not exist: name test files or directories, or give --config-file with [DEFAULT] scripts_dir", dir))
		}
		opts.Paths = []string{dir}
	}
	rep, err := luatest.Run(cmd.Context(), opts)
	if err != nil {
		return exitCode(2, err)
	}
	if o.junit != "" {
		if err := writeJUnit(o.junit, rep); err != nil {
			return exitCode(2, err)
		}
	}
	if rep.Failed > 0 {
		return exitCode(1, errors.New(""))
	}
	return nil
}

func writeJUnit(path string, rep *luatest.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--junit: %w", err)
	}
	if err := luatest.WriteJUnit(f, rep); err != nil {
		f.Close()
		return fmt.Errorf("--junit: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--junit: %w", err)
	}
	return nil
}
