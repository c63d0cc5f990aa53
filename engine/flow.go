package engine

import (
	"errors"
	"fmt"
	"slices"

	"github.com/kaifuku-ha/kaifuku/conf"
)

// Store keys the engine itself provides.
const (
	KeyHostName         = "host_name"
	KeyNotificationUUID = "notification_uuid"
	KeyInstanceUUID     = "instance_uuid"
	KeyProcessName      = "process_name"
	KeyReservedHostList = "reserved_host_list"
	KeyReservedHost     = "reserved_host"
)

// InitialKeys returns the keys a flow's store starts with, as Masakari's
// driver fills them for each kind of flow.
func InitialKeys(k conf.FlowKind) []string {
	switch k {
	case conf.FlowHostAuto:
		return []string{KeyHostName, KeyNotificationUUID}
	case conf.FlowHostRH:
		return []string{KeyHostName, KeyNotificationUUID, KeyReservedHostList}
	case conf.FlowInstance:
		return []string{KeyInstanceUUID, KeyNotificationUUID}
	case conf.FlowProcess:
		return []string{KeyProcessName, KeyHostName, KeyNotificationUUID}
	}
	return nil
}

// NotificationKeys returns the store keys that hold the notification's own
// facts: every key of an initial store (InitialKeys of any flow kind: the
// failed host, the failed instance, the process, the notification's uuid and
// the reserved hosts listed for it) and reserved_host, which the recovery
// binds to each reserved host in turn. No task may provide one of them: a
// task replacing host_name would turn the recovery onto a healthy host.
// Plan refuses a task that declares one in provides, and the runner refuses
// a task that returns one.
//
// Every other key may be provided again by a later task, which then refines
// it for the tasks after it: a task after prepare_HA_enabled_instances_task
// may provide instance_list, narrowed to the servers it lets the evacuation
// move. A task that provides a key again sees the earlier value in its store.
func NotificationKeys() []string {
	return []string{KeyHostName, KeyNotificationUUID, KeyInstanceUUID, KeyProcessName, KeyReservedHostList, KeyReservedHost}
}

// FlowTask is one task of a built flow.
type FlowTask struct {
	Spec  Spec
	Ref   conf.TaskRef
	Phase conf.Phase
	Task  Task // nil in a Plan
}

// Flow is a validated recovery flow: three phases of tasks.
type Flow struct {
	Kind     conf.FlowKind
	Pos      conf.Pos
	Phases   [3][]FlowTask
	Warnings []string
}

// Tasks returns every task in run order.
func (f *Flow) Tasks() []FlowTask {
	var out []FlowTask
	for _, p := range f.Phases {
		out = append(out, p...)
	}
	return out
}

// KeySource says where a task's required key comes from.
type KeySource struct {
	Key      string
	From     string // "initial store", "retry (reserved host)" or the providing task's name
	Optional bool
	Missing  bool // optional and never provided
}

// Sources returns, for a task of the flow, where each key it reads comes from.
func (f *Flow) Sources(t FlowTask) []KeySource {
	avail := f.available(t)
	var out []KeySource
	for _, k := range t.Spec.Requires {
		out = append(out, KeySource{Key: k, From: avail[k]})
	}
	for _, k := range t.Spec.Optional {
		from, ok := avail[k]
		out = append(out, KeySource{Key: k, From: from, Optional: true, Missing: !ok})
	}
	return out
}

// available returns the keys present in the store when t starts, with their
// source.
func (f *Flow) available(t FlowTask) map[string]string {
	avail := map[string]string{}
	for _, k := range InitialKeys(f.Kind) {
		avail[k] = "initial store"
	}
	for _, p := range conf.Phases {
		// The recovery layer runs the reserved-host flow's main once per
		// reserved host with reserved_host bound (recovery.MainRetry); the
		// plan checks the store that gives.
		if f.Kind == conf.FlowHostRH && p == conf.Main {
			avail[KeyReservedHost] = "retry (reserved host)"
		}
		if f.Kind == conf.FlowHostRH && p == conf.Post {
			delete(avail, KeyReservedHost)
		}
		for _, ft := range f.Phases[p] {
			if ft.Ref == t.Ref && ft.Phase == t.Phase && ft.Spec.Name == t.Spec.Name {
				return avail
			}
			for _, k := range ft.Spec.Provides {
				if _, ok := avail[k]; !ok {
					avail[k] = ft.Spec.Name
				}
			}
		}
	}
	return avail
}

// Plan resolves and validates a flow specification without building task
// instances: unknown names, a name in two phases, requires that nothing
// provides and provides of a notification's own fact (NotificationKeys) are
// errors naming the option, phase, task, key and position.
// All problems are returned, joined.
func Plan(reg *Registry, spec conf.FlowSpec) (*Flow, error) {
	f := &Flow{Kind: spec.Kind, Pos: spec.Pos}
	option := spec.Kind.Option()
	var errs []error
	fail := func(ref conf.TaskRef, p conf.Phase, format string, a ...any) {
		pos := ref.Pos
		if pos.IsZero() {
			pos = spec.Pos
		}
		errs = append(errs, &conf.Error{Pos: pos, Section: "taskflow_driver_recovery_flows", Key: option,
			Err: fmt.Errorf("%s: %s", p, fmt.Sprintf(format, a...))})
	}
	phaseOf := map[string]conf.Phase{}
	for _, p := range conf.Phases {
		seen := map[string]bool{}
		for _, ref := range spec.Phases[p] {
			s, err := reg.Lookup(ref.Name)
			if err != nil {
				fail(ref, p, "%v", err)
				continue
			}
			if seen[ref.Name] {
				// Masakari runs a task listed twice in one phase once, at its
				// first place; keep that, but say so.
				f.Warnings = append(f.Warnings, fmt.Sprintf("%s: [taskflow_driver_recovery_flows] %s: %s: task %q is listed twice; it runs once, at its first place",
					ref.Pos, option, p, ref.Name))
				continue
			}
			seen[ref.Name] = true
			if first, ok := phaseOf[ref.Name]; ok && first != p {
				fail(ref, p, "task %q is already in %s; a task may appear in one phase only", ref.Name, first)
				continue
			}
			phaseOf[ref.Name] = p
			f.Phases[p] = append(f.Phases[p], FlowTask{Spec: s, Ref: ref, Phase: p})
		}
	}
	for _, t := range f.Tasks() {
		for _, k := range t.Spec.Provides {
			if slices.Contains(NotificationKeys(), k) {
				fail(t.Ref, t.Phase, "task %q%s provides %q, one of the notification's own facts (%s), which no task may replace",
					t.Spec.Name, declaredIn(t.Spec), k, joinKeys(NotificationKeys()))
			}
		}
		avail := f.available(t)
		for _, k := range t.Spec.Requires {
			if _, ok := avail[k]; !ok {
				fail(t.Ref, t.Phase, "task %q requires %q, which is neither in the %s flow's initial store (%s) nor provided by an earlier task",
					t.Spec.Name, k, f.Kind, joinKeys(InitialKeys(f.Kind)))
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return f, nil
}

// declaredIn says where a Lua task declares its contract, for messages.
func declaredIn(s Spec) string {
	if s.Source == "" {
		return ""
	}
	return " (" + s.Source + ")"
}

func joinKeys(keys []string) string {
	s := ""
	for i, k := range keys {
		if i > 0 {
			s += ", "
		}
		s += k
	}
	return s
}

// Build plans a flow and creates its task instances, each from its settings
// section of cfg.
func Build(reg *Registry, cfg *conf.Config, kind conf.FlowKind) (*Flow, error) {
	spec, ok := cfg.Flows[kind]
	if !ok {
		return nil, fmt.Errorf("no %s flow configured", kind)
	}
	f, err := Plan(reg, spec)
	if err != nil {
		return nil, err
	}
	var errs []error
	for p := range f.Phases {
		for i := range f.Phases[p] {
			ft := &f.Phases[p][i]
			t, err := ft.Spec.New(cfg.TaskSection(ft.Spec.Name))
			if err != nil {
				errs = append(errs, placeFactoryError(ft, err))
				continue
			}
			ft.Task = t
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return f, nil
}

// placeFactoryError places a task's refusal of its settings: a problem that
// already names its place in the files (a bad key) stays as it is; others,
// a required key of a section that does not exist, say, are placed at the
// task's name in the flow.
func placeFactoryError(ft *FlowTask, err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, placeFactoryError(ft, e))
		}
		return errors.Join(out...)
	}
	var ce *conf.Error
	if errors.As(err, &ce) {
		if !ce.Pos.IsZero() {
			return err
		}
		placed := *ce
		placed.Pos = ft.Ref.Pos
		return &placed
	}
	return &conf.Error{Pos: ft.Ref.Pos, Section: ft.Spec.Name, Err: fmt.Errorf("task %q: %w", ft.Spec.Name, err)}
}

// BuildAll builds the four flows, collecting every problem.
func BuildAll(reg *Registry, cfg *conf.Config) (map[conf.FlowKind]*Flow, error) {
	flows := map[conf.FlowKind]*Flow{}
	var errs []error
	for _, k := range conf.FlowKinds {
		f, err := Build(reg, cfg, k)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		flows[k] = f
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return flows, nil
}
