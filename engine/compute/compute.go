// Package compute is the port through which recovery tasks drive a cloud: the
// Nova operations Masakari's tasks use, and nothing more. The simulated cloud
// and the Nova driver (under builtin/) implement it.
package compute

import (
	"context"
	"errors"
	"time"
)

// Kinds of failure every implementation translates its errors into, as
// Masakari translates novaclient's exceptions. Wrap them with %w so callers can
// test with errors.Is.
var (
	ErrInvalid     = errors.New("invalid input")       // HTTP 400
	ErrForbidden   = errors.New("forbidden")           // HTTP 403
	ErrNotFound    = errors.New("not found")           // HTTP 404
	ErrConflict    = errors.New("conflict")            // HTTP 409
	ErrUnavailable = errors.New("compute unavailable") // 5xx, timeouts, connection errors: retryable
)

// Server is what tasks read of a Nova server (microversion 2.53 field names in
// comments). Its Metadata may be shared by the values a Cloud returns: it is
// read, never changed.
type Server struct {
	ID                 string            `json:"id"`
	Name               string            `json:"name"`
	Status             string            `json:"status"`               // ACTIVE, SHUTOFF, ERROR, REBUILD, ...
	Host               string            `json:"host"`                 // OS-EXT-SRV-ATTR:host
	HypervisorHostname string            `json:"hypervisor_hostname"`  // OS-EXT-SRV-ATTR:hypervisor_hostname
	VMState            string            `json:"vm_state"`             // OS-EXT-STS:vm_state
	TaskState          string            `json:"task_state,omitempty"` // OS-EXT-STS:task_state; "" is None
	PowerState         int               `json:"power_state"`          // OS-EXT-STS:power_state (1 running, 4 shutdown)
	Locked             bool              `json:"locked"`               // locked
	Metadata           map[string]string `json:"metadata"`             // metadata
	TenantID           string            `json:"tenant_id,omitempty"`  // tenant_id
	UserID             string            `json:"user_id,omitempty"`    // user_id
}

// Power states as Nova reports them.
const (
	PowerRunning  = 1
	PowerShutdown = 4
)

// Service is a Nova compute service (os-services).
type Service struct {
	ID             string `json:"id"`
	Binary         string `json:"binary"`
	Host           string `json:"host"`
	Status         string `json:"status"` // enabled | disabled
	State          string `json:"state"`  // up | down
	ForcedDown     bool   `json:"forced_down"`
	DisabledReason string `json:"disabled_reason,omitempty"`
}

// ServiceUpdate changes a service; nil fields are left alone.
type ServiceUpdate struct {
	Status         *string // "enabled" or "disabled"
	DisabledReason string  // with Status "disabled"
	ForcedDown     *bool
}

// Aggregate is a host aggregate.
type Aggregate struct {
	ID    int      `json:"id"`
	Name  string   `json:"name"`
	Hosts []string `json:"hosts"`
}

// Cloud is the compute API the tasks use (Masakari's masakari/compute/nova.py).
// Implementations must be safe for concurrent use, and a call that waits
// (for Nova's answer, on a clock) calls clock.Waiting with its context
// first, or sleeps on the clock, which does: a host's evacuations run
// in parallel only while their calls wait (see clock.Each).
type Cloud interface {
	// ListServers lists the servers on host across all tenants (detailed).
	ListServers(ctx context.Context, host string) ([]Server, error)
	// ListServersChangedSince lists the servers of every host and tenant
	// changed at or after since (detailed; Nova's changes-since filter, on
	// Nova's clock): one call confirms many evacuations at once.
	ListServersChangedSince(ctx context.Context, since time.Time) ([]Server, error)
	GetServer(ctx context.Context, id string) (Server, error)
	// ListServices lists services; empty host or binary match any.
	ListServices(ctx context.Context, host, binary string) ([]Service, error)
	UpdateService(ctx context.Context, id string, u ServiceUpdate) (Service, error)
	// Evacuate rebuilds a server of a failed host elsewhere; an empty target
	// lets the scheduler choose.
	Evacuate(ctx context.Context, id, target string) error
	// ResetState sets vm_state to "active" or "error" and clears task_state.
	ResetState(ctx context.Context, id, state string) error
	Stop(ctx context.Context, id string) error
	Start(ctx context.Context, id string) error
	Lock(ctx context.Context, id string) error
	Unlock(ctx context.Context, id string) error
	ListAggregates(ctx context.Context) ([]Aggregate, error)
	AddHostToAggregate(ctx context.Context, aggregateID int, host string) error
}
