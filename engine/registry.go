package engine

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kaifuku-ha/kaifuku/conf"
)

// Factory builds a task for one flow from its settings section (the config
// section named after the task; empty when there is none).
type Factory func(settings conf.Section) (Task, error)

// Registry maps task names to their specs. It is a value: every daemon, test
// and harness run builds its own.
type Registry struct {
	specs map[string]Spec
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{specs: map[string]Spec{}} }

// Register adds a Go task. A nil factory, an empty name or a duplicate is a
// programming error and panics, as database/sql.Register does.
func (r *Registry) Register(s Spec) {
	if err := r.Add(s); err != nil {
		panic(err)
	}
}

// Add adds a task and reports a duplicate as an error naming both sources;
// the Lua loader uses it for scripts.
func (r *Registry) Add(s Spec) error {
	if s.Name == "" {
		return fmt.Errorf("task with an empty name")
	}
	if s.New == nil {
		return fmt.Errorf("task %q has no factory", s.Name)
	}
	if s.Kind == "" {
		s.Kind = "go"
	}
	if old, ok := r.specs[s.Name]; ok {
		return fmt.Errorf("task %q from %s clashes with the %s", s.Name, s.describe(), old.describe())
	}
	r.specs[s.Name] = s
	return nil
}

func (s Spec) describe() string {
	if s.Kind == "lua" {
		return "Lua script " + s.Source
	}
	return "built-in task " + s.Name
}

// Clone returns a copy that can be extended (with reloaded Lua scripts, say)
// without touching r.
func (r *Registry) Clone() *Registry {
	c := NewRegistry()
	for k, v := range r.specs {
		c.specs[k] = v
	}
	return c
}

// Lookup returns the spec of a task, or an error naming the closest names.
func (r *Registry) Lookup(name string) (Spec, error) {
	if s, ok := r.specs[name]; ok {
		return s, nil
	}
	if name == "" {
		return Spec{}, fmt.Errorf("empty task name")
	}
	if c := conf.Closest(name, r.Names(), 3, conf.Loose); len(c) > 0 {
		return Spec{}, fmt.Errorf("unknown task %q (did you mean %s?)", name, quoteJoin(c))
	}
	return Spec{}, fmt.Errorf("unknown task %q (known: %s)", name, strings.Join(r.Names(), ", "))
}

// Names returns every registered name, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.specs))
	for n := range r.specs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func quoteJoin(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, " or ")
}
