package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newSimcloudCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "simcloud",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return exitCode(2, errors.New("simcloud: not built yet"))
		},
	}
}
