// Package recovery is Masakari's engine manager and driver in one: it decides
// what a notification calls for, as Masakari's manager does, picks the
// flow and the recovery method, and runs the flows through engine.Runner,
// the reserved-host flow's main once per reserved host (MainRetry).
//
// Manager.Recover is the one way a notification becomes a recovery: the
// daemon (engine/service, over the database), kaifuku run and the test
// harness (over a MemorySegment) all go through it.
package recovery

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
)

// Notification types.
const (
	TypeComputeHost = "COMPUTE_HOST"
	TypeVM          = "VM"
	TypeProcess     = "PROCESS"
)

// Recovery methods of a failover segment.
const (
	MethodAuto         = "auto"
	MethodReservedHost = "reserved_host"
	MethodAutoPriority = "auto_priority"
	MethodRHPriority   = "rh_priority"
)

// Notification is what a monitor reported.
type Notification struct {
	UUID          string            `json:"notification_uuid"`
	Type          string            `json:"type"`
	Hostname      string            `json:"hostname"`
	GeneratedTime time.Time         `json:"generated_time"`
	Payload       map[string]string `json:"payload"`
}

// Host is the notification's source host as the segment database knows it.
type Host struct {
	Name           string
	Reserved       bool
	OnMaintenance  bool
	SegmentEnabled bool
	RecoveryMethod string
}

// Segments is the failover segment database as the manager needs it.
type Segments interface {
	engine.HostUpdater
	// SetMaintenance sets the host's on_maintenance flag.
	SetMaintenance(ctx context.Context, host string, on bool) error
	// ReservedHosts lists the reserved hosts of the host's segment that are
	// not on maintenance, in Masakari's order (created_at desc, id desc).
	ReservedHosts(ctx context.Context, host string) ([]string, error)
}

// Outcome is the result of processing one notification.
type Outcome struct {
	Status  string // finished, ignored or error
	Message string // why, for ignored and error outcomes
	// Runs lists the flows that ran, in order (two for a priority method that
	// fell back).
	Runs []Run
	// Interrupted is set when the recovery was stopped from outside (a
	// drain or the end of the context: shutdown, a lost lease) rather than
	// ended: nothing was reverted, Status is not final, and the notification
	// is to be resumed, running the interrupted task again. Every caller
	// reads it here; see interrupted.
	Interrupted bool
}

// Run is one flow run of a notification.
type Run struct {
	Flow   conf.FlowKind
	Result engine.Result
	ran    bool // the runner ran it (false for a run refused before it started)
}

// Manager processes notifications.
type Manager struct {
	Runner *engine.Runner
	Flows  map[conf.FlowKind]*engine.Flow
	// Claims hands out the reserved hosts the evacuations move servers to:
	// the database's across engines, engine.LocalClaims in one process.
	Claims engine.ReservedHostClaimer
	// Storm is the storm guard (off when MaxFailedHostsPercent is 0).
	Storm conf.StormGuard
	// VMoves records the servers host recoveries move (Env.VMoves); nil
	// records nothing.
	VMoves engine.VMoveRecorder
	// ServerLocks records the servers the recoveries lock in Nova
	// (engine.Env.ServerLocks): the database's, so that a lock outlives
	// the daemon that took it, or engine.LocalServerLocks in one process;
	// nil records none.
	ServerLocks engine.ServerLocker
	// Evacuations bounds the evacuations in flight across every recovery
	// of the engine (engine.Env.Evacuations); nil: no bound beyond each
	// task's own.
	Evacuations engine.EvacuationSlots
	// Unlocker releases, when a notification's recovery ends, the locks
	// still recorded for it (the compute cloud); nil leaves them recorded.
	Unlocker ServerUnlocker
}

// ServerUnlocker unlocks a server in Nova; compute.Cloud is one.
type ServerUnlocker interface {
	Unlock(ctx context.Context, id string) error
}

// ErrNoReservedHosts is Masakari's ReservedHostsUnavailable.
var ErrNoReservedHosts = &engine.RecoveryError{Msg: "No reserved_hosts available for evacuation."}

// MainRetry returns how the manager runs the main phase of a flow kind: the
// reserved-host flow's once per reserved host of its reserved_host_list, in
// list order, with reserved_host bound, until an attempt succeeds (a failed
// attempt reverts the main tasks it ran; the last failure fails the flow);
// the other flows' once (nil). Code that runs a flow itself, as the manager
// would, passes it in engine.Request.Retry.
func MainRetry(k conf.FlowKind) *engine.Retry {
	if k != conf.FlowHostRH {
		return nil
	}
	return &engine.Retry{Over: engine.KeyReservedHostList, Bind: engine.KeyReservedHost, Label: "reserved host", None: ErrNoReservedHosts}
}

// Checkpoints carries persisted runs into Process to resume them.
type Checkpoints map[conf.FlowKind]*engine.Checkpoint

// Process decides what n calls for and runs the recovery. host is the
// notification's source host; segs updates the segment database (maintenance,
// reserved flags) and lists reserved hosts. resume continues runs persisted
// before a restart. Process is the manager's decisions alone: callers go
// through Recover, which finds the host and checks its segment first.
func (m *Manager) Process(ctx context.Context, n Notification, host Host, segs Segments, resume Checkpoints) Outcome {
	var out Outcome
	switch n.Type {
	case TypeComputeHost:
		out = m.computeHost(ctx, n, host, segs, resume)
	case TypeVM:
		out = m.vm(ctx, n, resume)
	case TypeProcess:
		out = m.process(ctx, n, host, segs, resume)
	default:
		out = Outcome{Status: engine.StatusIgnored, Message: fmt.Sprintf("unknown notification type %q", n.Type)}
	}
	out.Interrupted = interrupted(ctx, out)
	if !out.Interrupted {
		m.releaseServerLocks(ctx, n.UUID)
	}
	return out
}

// releaseServerLocks unlocks the servers whose lock is still recorded for a
// notification whose recovery ended (finished, ignored or error): locks its
// tasks took and could not release, or that a run killed before its unlock
// left behind and no resumed task released. An interrupted recovery keeps
// them, for its resumed tasks. A lock that cannot be released stays on
// record and is logged.
func (m *Manager) releaseServerLocks(ctx context.Context, notificationUUID string) {
	if m.ServerLocks == nil || m.Unlocker == nil {
		return
	}
	log := m.logger().WithField("notification_uuid", notificationUUID)
	ids, err := m.ServerLocks.ServerLocks(ctx, notificationUUID)
	if err != nil {
		log.Errorf("could not read the server locks left by the recovery: %v", err)
		return
	}
	for _, id := range ids {
		if err := m.Unlocker.Unlock(ctx, id); err != nil {
			log.WithField("instance_uuid", id).Errorf("could not unlock server locked by the recovery: %v", err)
			continue
		}
		log := log.WithField("instance_uuid", id)
		log.Info("unlocked server left locked by the recovery")
		m.ServerLocks.ForgetServerLock(notificationUUID, id, func(err error) {
			log.Errorf("server unlocked, but the record of its lock stays: %v", err)
		})
	}
}

// interrupted is the one place that decides whether a notification's
// recovery was interrupted rather than ended: the runner's verdict on the
// last flow it ran (engine.Result.Interrupted), or, when the manager stopped
// before running one (a segment update refused), an error while the context
// had ended.
func interrupted(ctx context.Context, out Outcome) bool {
	if n := len(out.Runs); n > 0 && out.Runs[n-1].ran {
		return out.Runs[n-1].Result.Interrupted
	}
	return out.Status == engine.StatusError && ctx.Err() != nil
}

// stoppedOnMaintenance answers a host or process notification whose event
// is not STOPPED (done), and otherwise puts the host on maintenance before
// its recovery (done only when that fails).
func stoppedOnMaintenance(ctx context.Context, n Notification, host Host, segs Segments) (out Outcome, done bool) {
	switch strings.ToUpper(n.Payload["event"]) {
	case "STARTED":
		return Outcome{Status: engine.StatusFinished, Message: fmt.Sprintf("Notification '%s' of event STARTED: nothing to recover.", n.UUID)}, true
	case "STOPPED":
	default:
		return Outcome{Status: engine.StatusIgnored, Message: fmt.Sprintf("Notification '%s' ignored: unknown event '%s'.", n.UUID, n.Payload["event"])}, true
	}
	if err := segs.SetMaintenance(ctx, host.Name, true); err != nil {
		return errorOutcome(fmt.Errorf("set host %s on maintenance: %w", host.Name, err)), true
	}
	return Outcome{}, false
}

func (m *Manager) computeHost(ctx context.Context, n Notification, host Host, segs Segments, resume Checkpoints) Outcome {
	hostStatus, ok := n.Payload["host_status"]
	if !ok {
		return Outcome{Status: engine.StatusIgnored, Message: fmt.Sprintf("Notification '%s' ignored as host_status is not provided.", n.UUID)}
	}
	if strings.ToUpper(hostStatus) != "NORMAL" {
		return Outcome{Status: engine.StatusIgnored, Message: fmt.Sprintf("Notification '%s' ignored as host_status is '%s'", n.UUID, strings.ToUpper(hostStatus))}
	}
	if out, done := stoppedOnMaintenance(ctx, n, host, segs); done {
		return out
	}
	if host.Reserved {
		if err := segs.SetReserved(ctx, host.Name, false); err != nil {
			return errorOutcome(fmt.Errorf("clear reserved flag of host %s: %w", host.Name, err))
		}
	}
	method := host.RecoveryMethod
	var reserved []string
	if method != MethodAuto {
		var err error
		if reserved, err = segs.ReservedHosts(ctx, host.Name); err != nil {
			return errorOutcome(fmt.Errorf("list reserved hosts: %w", err))
		}
	}
	auto := func(fallback bool) Run {
		return m.run(ctx, conf.FlowHostAuto, n, engine.Store{engine.KeyHostName: host.Name}, segs, resume, fallback)
	}
	rh := func(fallback bool) Run {
		if len(reserved) == 0 && resume[conf.FlowHostRH] == nil {
			return Run{Flow: conf.FlowHostRH, Result: engine.Result{Status: engine.StatusError, Err: ErrNoReservedHosts}}
		}
		hosts := make([]any, len(reserved))
		for i, h := range reserved {
			hosts[i] = h
		}
		return m.run(ctx, conf.FlowHostRH, n, engine.Store{engine.KeyHostName: host.Name, engine.KeyReservedHostList: hosts}, segs, resume, fallback)
	}
	first, second := auto, rh
	firstKind, secondKind := conf.FlowHostAuto, conf.FlowHostRH
	switch method {
	case MethodAuto:
		second = nil
	case MethodReservedHost:
		first, second, firstKind = rh, nil, conf.FlowHostRH
	case MethodAutoPriority:
	default: // rh_priority, and any other value, as Masakari does
		first, second = rh, auto
		firstKind, secondKind = conf.FlowHostRH, conf.FlowHostAuto
	}
	var runs []Run
	// A resumed notification that had already fallen back goes on with the
	// fallback flow: the fallback's checkpoint exists from its start on (the
	// runner announces a fallback with FallbackStarted and its store), even
	// when the first flow never had a success and so has no checkpoint.
	if second == nil || resume[secondKind] == nil {
		r := first(false)
		runs = append(runs, r)
		// An interrupted run is resumed later, not replaced by the
		// fallback.
		if second == nil || r.Result.Err == nil || engine.IsSkip(r.Result.Err) || r.Result.Interrupted {
			return outcome(runs)
		}
		m.logger().WithField("notification_uuid", n.UUID).Warnf("recovery method %s: %s flow failed (%v); falling back to the %s flow", method, firstKind, r.Result.Err, secondKind)
	}
	runs = append(runs, second(true))
	return outcome(runs)
}

func (m *Manager) vm(ctx context.Context, n Notification, resume Checkpoints) Outcome {
	event, domainEvent := n.Payload["event"], n.Payload["vir_domain_event"]
	valid := map[string]string{"LIFECYCLE": "STOPPED_FAILED", "QEMU_GUEST_AGENT_ERROR": "STOPPED_FAILED", "IO_ERROR": "IO_ERROR_REPORT"}
	if want, ok := valid[event]; !ok || want != domainEvent {
		return Outcome{Status: engine.StatusIgnored, Message: fmt.Sprintf("Notification '%s' ignored: event '%s' with vir_domain_event '%s' is not a failure kaifuku recovers.", n.UUID, event, domainEvent)}
	}
	r := m.run(ctx, conf.FlowInstance, n, engine.Store{engine.KeyInstanceUUID: n.Payload["instance_uuid"]}, nil, resume, false)
	return outcome([]Run{r})
}

func (m *Manager) process(ctx context.Context, n Notification, host Host, segs Segments, resume Checkpoints) Outcome {
	if out, done := stoppedOnMaintenance(ctx, n, host, segs); done {
		return out
	}
	name := n.Payload["process_name"]
	if name != "nova-compute" {
		m.logger().WithField("notification_uuid", n.UUID).Warnf("Skipping recovery for process: %s.", name)
		return Outcome{Status: engine.StatusFinished, Message: fmt.Sprintf("Skipping recovery for process: %s.", name)}
	}
	r := m.run(ctx, conf.FlowProcess, n, engine.Store{engine.KeyProcessName: name, engine.KeyHostName: host.Name}, segs, resume, false)
	return outcome([]Run{r})
}

func (m *Manager) run(ctx context.Context, kind conf.FlowKind, n Notification, store engine.Store, hosts engine.HostUpdater, resume Checkpoints, fallback bool) Run {
	f, ok := m.Flows[kind]
	if !ok {
		return Run{Flow: kind, Result: engine.Result{Status: engine.StatusError, Err: fmt.Errorf("no %s flow is configured", kind)}}
	}
	store[engine.KeyNotificationUUID] = n.UUID
	req := engine.Request{NotificationUUID: n.UUID, Flow: f, Store: store, Hosts: hosts, Claims: m.Claims, VMoves: m.VMoves,
		ServerLocks: m.ServerLocks, Evacuations: m.Evacuations, Retry: MainRetry(kind), Resume: resume[kind], Fallback: fallback}
	return Run{Flow: kind, Result: m.Runner.Run(ctx, req), ran: true}
}

func (m *Manager) logger() *logrus.Logger { return m.Runner.Log }

func outcome(runs []Run) Outcome {
	last := runs[len(runs)-1].Result
	o := Outcome{Status: last.Status, Runs: runs}
	if last.Err != nil {
		o.Message = last.Err.Error()
	}
	return o
}

func errorOutcome(err error) Outcome {
	return Outcome{Status: engine.StatusError, Message: err.Error()}
}
