package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
)

type flowJSON struct {
	Flow   string              `json:"flow"`
	Option string              `json:"option"`
	Source string              `json:"source"`
	Phases map[string][]taskJS `json:"phases"`
}

type taskJS struct {
	Name     string           `json:"name"`
	Kind     string           `json:"kind"`
	Source   string           `json:"source,omitempty"`
	Requires []keyJS          `json:"requires"`
	Provides []string         `json:"provides"`
	Settings []engine.Setting `json:"settings,omitempty"`
}

type keyJS struct {
	Key      string `json:"key"`
	From     string `json:"from"`
	Optional bool   `json:"optional,omitempty"`
}

func newFlowsCmd() *cobra.Command {
	var files []string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "flows [--config-file FILE]... [--json]",
		Short: "Show the four recovery flows: phases, tasks and the data each task needs",
		Long: `flows prints each of the four recovery flows as configured: its phases,
the tasks in run order, what each task requires and provides in the flow
store, and where each required key comes from (the flow's initial store, the
reserved-host retry, or an earlier task).

Exit codes: 0 printed; 2 bad usage or an invalid configuration (every
problem is printed; kaifuku check gives the same list).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(files)
			if err != nil {
				return exitCode(2, err)
			}
			s, err := buildSetup(cfg, engineParts{})
			if err != nil {
				return exitCode(2, err)
			}
			if asJSON {
				return printFlowsJSON(cmd.OutOrStdout(), s)
			}
			printFlows(cmd.OutOrStdout(), s)
			return nil
		},
	}
	configFlags(cmd, &files)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	return cmd
}

func flowSource(f *engine.Flow) string {
	if f.Pos.IsZero() {
		return "Masakari's default"
	}
	return f.Pos.String()
}

func printFlows(w io.Writer, s *setup) {
	for i, k := range conf.FlowKinds {
		f := s.Flows[k]
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s (%s, %s)\n", k, k.Option(), flowSource(f))
		fmt.Fprintf(w, "  initial store: %s\n", strings.Join(engine.InitialKeys(k), ", "))
		for _, p := range conf.Phases {
			label := p.String()
			if k == conf.FlowHostRH && p == conf.Main {
				label += " (retried once per reserved host, with reserved_host bound)"
			}
			if len(f.Phases[p]) == 0 {
				fmt.Fprintf(w, "  %s: (empty)\n", label)
				continue
			}
			fmt.Fprintf(w, "  %s:\n", label)
			for _, t := range f.Phases[p] {
				kind := "built-in"
				if t.Spec.Kind == "lua" {
					kind = "Lua " + relPath(t.Spec.Source)
				}
				fmt.Fprintf(w, "    %s [%s]\n", t.Spec.Name, kind)
				for _, src := range f.Sources(t) {
					switch {
					case src.Optional && src.Missing:
						fmt.Fprintf(w, "      reads    %s (optional, not available here)\n", src.Key)
					case src.Optional:
						fmt.Fprintf(w, "      reads    %s (optional) <- %s\n", src.Key, src.From)
					default:
						fmt.Fprintf(w, "      requires %s <- %s\n", src.Key, src.From)
					}
				}
				for _, p := range t.Spec.Provides {
					fmt.Fprintf(w, "      provides %s\n", p)
				}
				for _, st := range t.Spec.Settings {
					fmt.Fprintf(w, "      setting  [%s] %s\n", t.Spec.Name, describeSetting(st))
				}
			}
		}
	}
}

func printFlowsJSON(w io.Writer, s *setup) error {
	var out []flowJSON
	for _, k := range conf.FlowKinds {
		f := s.Flows[k]
		fj := flowJSON{Flow: string(k), Option: k.Option(), Source: flowSource(f), Phases: map[string][]taskJS{}}
		for _, p := range conf.Phases {
			tasks := []taskJS{}
			for _, t := range f.Phases[p] {
				tj := taskJS{Name: t.Spec.Name, Kind: t.Spec.Kind, Source: t.Spec.Source, Requires: []keyJS{}, Provides: append([]string{}, t.Spec.Provides...),
					Settings: t.Spec.Settings}
				for _, src := range f.Sources(t) {
					tj.Requires = append(tj.Requires, keyJS{Key: src.Key, From: src.From, Optional: src.Optional})
				}
				tasks = append(tasks, tj)
			}
			fj.Phases[p.String()] = tasks
		}
		out = append(out, fj)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// describeSetting is one declared setting as flows prints it:
// "retries (integer, default 2): further attempts after an error".
func describeSetting(s engine.Setting) string {
	what := s.Type
	switch {
	case s.Required:
		what += ", required"
	case s.Default != "":
		what += ", default " + s.Default
	}
	return fmt.Sprintf("%s (%s): %s", s.Name, what, s.Doc)
}
