package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "check",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return exitCode(2, errors.New("check: not built yet"))
		},
	}
}
