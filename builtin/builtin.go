package builtin

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/kaifuku-ha/kaifuku/engine/fence"
)

// Deps is what the built-in tasks need: the cloud they drive and the engine
// options ([DEFAULT], [host_failure], [instance_failure], [process_failure]).
// A nil Config means conf.Defaults(); a nil Cloud lets flows be built and
// validated, but their tasks fail when they run.
type Deps struct {
	Cloud  compute.Cloud
	Config *conf.Config
	// Fencer powers failed hosts off for fence_host_task; nil: the fence
	// agents of Config's [fencing:HOST] sections, and the cloud's own
	// devices (fence.Devices) for other hosts.
	Fencer fence.Fencer
}

// Configured names of the built-in tasks ([taskflow_driver_recovery_flows]).
const (
	DisableComputeServiceName      = "disable_compute_service_task"
	PrepareHAEnabledInstancesName  = "prepare_HA_enabled_instances_task"
	EvacuateInstancesName          = "evacuate_instances_task"
	StopInstanceName               = "stop_instance_task"
	StartInstanceName              = "start_instance_task"
	ConfirmInstanceActiveName      = "confirm_instance_active_task"
	DisableComputeNodeName         = "disable_compute_node_task"
	ConfirmComputeNodeDisabledName = "confirm_compute_node_disabled_task"
	NoopName                       = "no_op"
)

// KeyInstanceList is the store key prepare_HA_enabled_instances_task
// provides: the ids of the servers to evacuate, in order.
const KeyInstanceList = "instance_list"

// NoopAtom is no_op's atom name: Noop is not a MasakariTask and keeps
// taskflow's default name, the dotted class path.
const NoopAtom = "masakari.engine.drivers.taskflow.no_op.Noop"

// Nova values the tasks compare against.
const (
	novaCompute = "nova-compute"

	serviceEnabled  = "enabled"
	serviceDisabled = "disabled"
	serviceDown     = "down"

	vmActive  = "active"
	vmStopped = "stopped"
	vmError   = "error"
	vmPaused  = "paused"
	vmRescued = "rescued"
	vmResized = "resized"
)

// Register adds the built-in tasks to reg, driving cloud. Options are
// read from cfg each time a flow is built. It has the shape of
// harness.Suite's Builtins, so the harness runs the same tasks.
func Register(reg *engine.Registry, cloud compute.Cloud, cfg *conf.Config) {
	for _, s := range Specs(Deps{Cloud: cloud, Config: cfg}) {
		reg.Register(s)
	}
}

// Specs returns the specs of the built-in tasks, sorted by name.
func Specs(deps Deps) []engine.Spec {
	type def struct {
		name, atom string
		requires   []string
		optional   []string
		provides   []string
		noProgress bool
		build      func(base) engine.Task
	}
	defs := []def{
		{name: DisableComputeServiceName, atom: "DisableComputeServiceTask",
			requires: []string{engine.KeyHostName},
			build:    func(b base) engine.Task { return &DisableComputeService{base: b} }},
		{name: PrepareHAEnabledInstancesName, atom: "PrepareHAEnabledInstancesTask",
			requires: []string{engine.KeyHostName}, provides: []string{KeyInstanceList},
			build: func(b base) engine.Task { return &PrepareHAEnabledInstances{base: b} }},
		{name: EvacuateInstancesName, atom: "EvacuateInstancesTask",
			requires: []string{engine.KeyHostName, KeyInstanceList}, optional: []string{engine.KeyReservedHost},
			build: func(b base) engine.Task { return &EvacuateInstances{base: b} }},
		{name: StopInstanceName, atom: "StopInstanceTask",
			requires: []string{engine.KeyInstanceUUID},
			build:    func(b base) engine.Task { return &StopInstance{base: b} }},
		{name: StartInstanceName, atom: "StartInstanceTask",
			requires: []string{engine.KeyInstanceUUID},
			build:    func(b base) engine.Task { return &StartInstance{base: b} }},
		{name: ConfirmInstanceActiveName, atom: "ConfirmInstanceActiveTask",
			requires: []string{engine.KeyInstanceUUID},
			build:    func(b base) engine.Task { return &ConfirmInstanceActive{base: b} }},
		{name: DisableComputeNodeName, atom: "DisableComputeNodeTask",
			requires: []string{engine.KeyProcessName, engine.KeyHostName},
			build:    func(b base) engine.Task { return &DisableComputeNode{base: b} }},
		{name: ConfirmComputeNodeDisabledName, atom: "ConfirmComputeNodeDisabledTask",
			requires: []string{engine.KeyProcessName, engine.KeyHostName},
			build:    func(b base) engine.Task { return &ConfirmComputeNodeDisabled{base: b} }},
		{name: FenceHostName, atom: "FenceHostTask",
			requires: []string{engine.KeyHostName},
			build:    func(b base) engine.Task { return newFenceHost(b, deps) }},
		{name: NoopName, atom: NoopAtom, noProgress: true,
			build: func(base) engine.Task { return Noop{} }},
	}
	specs := make([]engine.Spec, 0, len(defs))
	for _, d := range defs {
		specs = append(specs, engine.Spec{
			Name:       d.name,
			Atom:       d.atom,
			Kind:       "go",
			Requires:   d.requires,
			Optional:   d.optional,
			Provides:   d.provides,
			NoProgress: d.noProgress,
			New: func(settings conf.Section) (engine.Task, error) {
				if err := noSettings(settings); err != nil {
					return nil, err
				}
				return d.build(base{cloud: deps.Cloud, opt: newOptions(deps.Config)}), nil
			},
		})
	}
	sort.Slice(specs, func(i, j int) bool { return specs[i].Name < specs[j].Name })
	return specs
}

// noSettings refuses a settings section for a built-in task: its options live
// in Masakari's sections, and a key here would silently do nothing.
func noSettings(s conf.Section) error {
	if len(s.Values) == 0 {
		return nil
	}
	keys := make([]string, 0, len(s.Values))
	for k := range s.Values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	where := make([]string, len(keys))
	for i, k := range keys {
		where[i] = k
		if p, ok := s.KeyPos[k]; ok && !p.IsZero() {
			where[i] = fmt.Sprintf("%s (%s)", k, p)
		}
	}
	return fmt.Errorf("unknown setting %s: built-in tasks take their options from [DEFAULT], [host_failure], [instance_failure] and [process_failure]", strings.Join(where, ", "))
}

// options are the engine options the tasks read, resolved once per flow.
type options struct {
	verifyInterval     time.Duration
	afterServiceUpdate time.Duration
	afterEvacuation    time.Duration
	afterPowerOff      time.Duration
	afterPowerOn       time.Duration
	threads            int
	host               conf.HostFailure
	instance           conf.InstanceFailure
	process            conf.ProcessFailure
}

func newOptions(c *conf.Config) options {
	if c == nil {
		c = conf.Defaults()
	}
	o := options{
		verifyInterval:     c.Engine.VerifyInterval,
		afterServiceUpdate: c.Engine.WaitPeriodAfterServiceUpdate,
		afterEvacuation:    c.Engine.WaitPeriodAfterEvacuation,
		afterPowerOff:      c.Engine.WaitPeriodAfterPowerOff,
		afterPowerOn:       c.Engine.WaitPeriodAfterPowerOn,
		threads:            c.Engine.HostFailureRecoveryThreads,
		host:               c.HostFailure,
		instance:           c.InstanceFailure,
		process:            c.ProcessFailure,
	}
	// A poll that never pauses would spin (and, on a virtual clock, never
	// reach its timeout); Masakari's option has the same one-second default.
	if o.verifyInterval <= 0 {
		o.verifyInterval = time.Second
	}
	// Masakari's option has min=1.
	if o.threads < 1 {
		o.threads = 1
	}
	return o
}

// base is what every task instance holds.
type base struct {
	cloud compute.Cloud
	opt   options
}

// nova returns the cloud, or an error when the daemon was built without one.
func (b base) nova() (compute.Cloud, error) {
	if b.cloud == nil {
		return nil, fmt.Errorf("no compute cloud configured")
	}
	return b.cloud, nil
}

// begin is the start every task shares: it reads the task's string inputs,
// in the order of keys, and returns them with the cloud the task drives. A
// missing or mistyped input is reported before a missing cloud.
func (b base) begin(in engine.Store, keys ...string) ([]string, compute.Cloud, error) {
	vals := make([]string, len(keys))
	for i, k := range keys {
		v, err := in.String(k)
		if err != nil {
			return nil, nil, err
		}
		vals[i] = v
	}
	nova, err := b.nova()
	if err != nil {
		return nil, nil, err
	}
	return vals, nova, nil
}

// beginOne is the start of a task about one host or one server: it reads
// the task's one string input key (as begin does) and returns it with the
// cloud and the task's log, which names the input as field.
func (b base) beginOne(env *engine.Env, in engine.Store, key, field string) (string, compute.Cloud, *logrus.Entry, error) {
	v, nova, err := b.begin(in, key)
	if err != nil {
		return "", nil, nil, err
	}
	return v[0], nova, envLog(env).WithField(field, v[0]), nil
}

// Revert does nothing: Masakari's built-in tasks have no revert logic (a
// reserved host stays enabled and unreserved, as in Masakari).
func (base) Revert(context.Context, *engine.Env, engine.Store, error) error { return nil }
