package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newTestCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "test",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return exitCode(2, errors.New("test: not built yet"))
		},
	}
}
