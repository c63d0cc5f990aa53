package simulated

import (
	"context"
	"fmt"

	"github.com/kaifuku-ha/kaifuku/engine/fence"
)

// bmcModes are the behaviours of a simulated BMC (Host.BMC).
var bmcModes = []string{"ok", "refuse", "stuck", "hang", "unreachable"}

var _ fence.Devices = (*Cloud)(nil)

// Fencer returns the cloud's BMCs, one per host, as fence_host_task drives
// them: powering a host off kills its nova-compute, so Nova reports it down
// after service_down_time, or at once when it is forced down.
func (c *Cloud) Fencer() fence.Fencer { return bmcs{c} }

type bmcs struct{ c *Cloud }

// bmc returns the host and the error its BMC's behaviour causes, if any.
// hang waits for ctx (the caller's timeout). It is called with c.mu held and
// releases it while it waits.
func (b bmcs) bmc(ctx context.Context, name, op string) (*host, error) {
	c := b.c
	h, ok := c.hostByName[name]
	if !ok {
		return nil, fmt.Errorf("BMC %s: %w", op, c.unknownHost(name))
	}
	c.counts.ops["bmc_"+op]++
	switch h.bmc {
	case "refuse":
		return nil, fmt.Errorf("BMC of host %q refused the login (wrong credentials)", name)
	case "unreachable":
		return nil, fmt.Errorf("BMC of host %q is unreachable: connection timed out", name)
	case "hang":
		c.mu.Unlock()
		<-ctx.Done()
		c.mu.Lock()
		return nil, fmt.Errorf("BMC of host %q did not answer: %w", name, ctx.Err())
	}
	return h, nil
}

func (b bmcs) Status(ctx context.Context, name string) (fence.Power, error) {
	if err := ctx.Err(); err != nil {
		return fence.PowerUnknown, err
	}
	b.c.lock()
	defer b.c.mu.Unlock()
	h, err := b.bmc(ctx, name, "status")
	if err != nil {
		return fence.PowerUnknown, err
	}
	if h.poweredOff {
		return fence.PowerOff, nil
	}
	return fence.PowerOn, nil
}

func (b bmcs) Off(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := b.c.lock()
	defer b.c.mu.Unlock()
	h, err := b.bmc(ctx, name, "off")
	if err != nil {
		return err
	}
	if h.bmc == "stuck" {
		return fmt.Errorf("BMC of host %q took the command but the power did not go off", name)
	}
	h.poweredOff = true
	if !h.failed {
		h.failed, h.failedAt = true, now
	}
	return nil
}
