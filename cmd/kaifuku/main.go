// Command kaifuku recovers virtual machines when a compute host, a VM or a
// host process fails: a drop-in for OpenStack Masakari's engine and API.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/kaifuku-ha/kaifuku/engine/buildinfo"
)

// exitError carries a process exit code out of a subcommand.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitCode(code int, err error) error { return &exitError{code: code, err: err} }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "kaifuku",
		Short: "Recover virtual machines when a compute host, a VM or a process fails",
		Long: `kaifuku recovers virtual machines when a compute host, a VM or a host process
fails. It is a drop-in for OpenStack Masakari's engine and API: it reads
Masakari's configuration, runs its recovery workflows task by task, and lets
operators add their own tasks as Lua scripts.

Exit codes: 0 success; 1 a check, test or recovery failed; 2 bad usage,
configuration or input.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildinfo.Read().String(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.AddCommand(newCheckCmd(), newFlowsCmd(), newRunCmd(), newTestCmd(), newServeCmd(), newSimcloudCmd(), newBenchCmd(), newVersionCmd())
	return root
}

func main() {
	err := newRootCmd().Execute()
	if err == nil {
		return
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(os.Stderr, "kaifuku:", ee.err)
		}
		os.Exit(ee.code)
	}
	fmt.Fprintln(os.Stderr, "kaifuku:", err)
	os.Exit(2)
}
