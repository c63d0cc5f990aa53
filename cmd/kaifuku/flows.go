package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newFlowsCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "flows",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return exitCode(2, errors.New("flows: not built yet"))
		},
	}
}
