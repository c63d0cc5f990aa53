// Package engine is kaifuku's recovery flow engine: tasks registered by name,
// flows of pre, main and post phases built from configuration and validated
// before they run, and a runner that executes them with timeouts, reverts,
// typed outcomes and progress events. It knows no concrete task, no Lua and no
// cloud.
package engine

import (
	"context"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/engine/clock"
)

// Task is one step of a recovery flow.
type Task interface {
	// Execute does the work. in holds the flow store (read it, do not keep
	// it); the returned store holds exactly the keys the task provides.
	Execute(ctx context.Context, env *Env, in Store) (Store, error)
	// Revert undoes what Execute did when a later task fails; cause is the
	// error that made the flow revert. Tasks with nothing to undo return nil.
	Revert(ctx context.Context, env *Env, in Store, cause error) error
}

// EvacuationSlots hands out the engine's evacuation slots, fairly between
// the hosts being recovered (budget.Slots). Acquire waits for one for an
// evacuation from host (ha: a server with HA metadata, served first) and
// returns the function that gives it back, or ctx's error.
type EvacuationSlots interface {
	Acquire(ctx context.Context, host string, ha bool) (release func(), err error)
}

// Env is what a running task may use besides its store: who it runs for,
// the clock, a logger and the progress recorder.
type Env struct {
	NotificationUUID string
	Task             string // the task's configured name
	Clock            clock.Clock
	Log              *logrus.Entry
	// Hosts lets host-recovery tasks update the failover segment's hosts
	// (Masakari's update_host_method); nil where no segment database exists.
	Hosts HostUpdater
	// Claims hands a reserved host to one recovery at a time, across flows
	// (and engines); nil where nothing claims.
	Claims ReservedHostClaimer
	// VMoves records the servers a host recovery moves; nil where nothing
	// records them.
	VMoves VMoveRecorder
	// ServerLocks records the servers the recovery locked in Nova until it
	// unlocks them; nil where nothing records them.
	ServerLocks ServerLocker
	// Evacuations bounds the evacuations in flight across every host
	// recovery of the engine; nil where only each task bounds its own.
	Evacuations EvacuationSlots

	progress func(message string, fraction float64)
	shared   *shared
}

// Shared returns the value stored under key for this flow run, creating it
// with create on first use. Tasks of one run share it (the Lua sandbox keeps
// its per-run state here); values that implement io.Closer are closed when
// the run ends. Without a runner (NewEnv) every call creates a new value.
func (e *Env) Shared(key any, create func() (any, error)) (any, error) {
	if e.shared == nil {
		return create()
	}
	return e.shared.get(key, create)
}

// Progress records a progress entry for the running task, as Masakari's
// update_details does.
func (e *Env) Progress(message string, fraction float64) {
	if e.progress != nil {
		e.progress(message, fraction)
	}
}

// NewEnv returns an Env whose progress entries go to record; for tests and
// for callers that run tasks without a Runner.
func NewEnv(notificationUUID, task string, c clock.Clock, log *logrus.Entry, record func(string, float64)) *Env {
	return &Env{NotificationUUID: notificationUUID, Task: task, Clock: c, Log: log, progress: record}
}

// HostUpdater changes a host of the failover segment.
type HostUpdater interface {
	SetReserved(ctx context.Context, host string, reserved bool) error
}

// ProgressEntry is one recorded progress message.
type ProgressEntry struct {
	Timestamp time.Time `json:"timestamp"`
	Progress  float64   `json:"progress"`
	Message   string    `json:"message"`
}

// Spec is what the registry knows of a task before any instance exists: its
// name, its data contract and where it comes from.
type Spec struct {
	Name     string   // configured name: "evacuate_instances_task", "send_alert_mail"
	Atom     string   // Masakari's atom name for recovery_workflow_details; defaults to Name
	Kind     string   // "go" or "lua"
	Source   string   // where a Lua task lives (file path); empty for Go tasks
	Requires []string // store keys it must find
	Optional []string // store keys it reads when present (reserved_host)
	Provides []string // store keys it adds
	// NoProgress marks tasks that record no progress (no_op), which Masakari
	// leaves out of recovery_workflow_details.
	NoProgress bool
	// Timeout bounds one execution; 0 means the runner's default.
	Timeout time.Duration
	// Settings are the keys of the task's settings section it declares, in
	// name order; nil when it declares none (its section is not checked).
	Settings []Setting
	// New builds an instance for one flow from the task's settings section.
	New Factory
}

// Setting is one key a task reads from its settings section.
type Setting struct {
	Name     string `json:"name"`
	Type     string `json:"type"` // string, integer, number, boolean or list
	Required bool   `json:"required,omitempty"`
	Default  string `json:"default,omitempty"` // as it would be written in the section; "" for none
	Doc      string `json:"doc"`               // one line
}

// AtomName returns the name shown in recovery_workflow_details.
func (s Spec) AtomName() string {
	if s.Atom != "" {
		return s.Atom
	}
	return s.Name
}

// FormatTimestamp renders t as Masakari's progress entries do (Python's
// str(datetime) of a naive UTC time): "2026-01-02 03:04:05.123456", without
// the fraction when it is zero.
func FormatTimestamp(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02 15:04:05")
	}
	return t.Format("2006-01-02 15:04:05.000000")
}
