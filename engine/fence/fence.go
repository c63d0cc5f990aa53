package fence

import (
	"context"
	"errors"
	"fmt"
)

// Power is the power state of a host's chassis.
type Power int

// The power states a fencer reports.
const (
	PowerUnknown Power = iota
	PowerOn
	PowerOff
)

func (p Power) String() string {
	switch p {
	case PowerOn:
		return "on"
	case PowerOff:
		return "off"
	}
	return "unknown"
}

// Fencer powers hosts off.
type Fencer interface {
	// Status reads the power state of host.
	Status(ctx context.Context, host string) (Power, error)
	// Off powers host off. It returns nil only once the device has
	// confirmed that the power is off.
	Off(ctx context.Context, host string) error
}

// Devices is a cloud that has a fencing device of its own for every host
// (the simulated cloud's BMCs).
type Devices interface {
	Fencer() Fencer
}

// TaskName is the name of the built-in task that fences a failed host
// (metrics count its failures by host).
const TaskName = "fence_host_task"

// ErrNotConfigured is returned (wrapped) for a host that has no fencing
// device.
var ErrNotConfigured = errors.New("no fencing device configured")

// For returns a fencer that fences the hosts agents knows with their agent
// and every other host with fallback (nil: none).
func For(agents *Agents, fallback Fencer) Fencer {
	return combined{agents: agents, fallback: fallback}
}

type combined struct {
	agents   *Agents
	fallback Fencer
}

func (c combined) pick(host string) (Fencer, error) {
	if c.agents != nil && c.agents.Has(host) {
		return c.agents, nil
	}
	if c.fallback != nil {
		return c.fallback, nil
	}
	return nil, fmt.Errorf("host %q: %w (add a [fencing:%s] section)", host, ErrNotConfigured, host)
}

func (c combined) Status(ctx context.Context, host string) (Power, error) {
	f, err := c.pick(host)
	if err != nil {
		return PowerUnknown, err
	}
	return f.Status(ctx, host)
}

func (c combined) Off(ctx context.Context, host string) error {
	f, err := c.pick(host)
	if err != nil {
		return err
	}
	return f.Off(ctx, host)
}
