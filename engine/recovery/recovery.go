// Package recovery is Masakari's engine manager and driver in one: it decides
// what a notification calls for (reference sections 3.2 to 4.5), picks the
// flow and the recovery method, and runs the flows through engine.Runner.
package recovery

import (
	"context"
	"time"

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
}

// Run is one flow run of a notification.
type Run struct {
	Flow   conf.FlowKind
	Result engine.Result
}

// Manager processes notifications.
type Manager struct {
	Runner *engine.Runner
	Flows  map[conf.FlowKind]*engine.Flow
	Locks  engine.Locker
}

// Checkpoints carries persisted runs into Process to resume them.
type Checkpoints map[conf.FlowKind]*engine.Checkpoint
