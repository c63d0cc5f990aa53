package budget

import (
	"context"
	"fmt"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"golang.org/x/time/rate"
)

// Limit returns cloud with every call first taking a token from a bucket
// refilled perSecond times a second (burst one, so no window of a second sees
// more than the budget plus one), timed on clk so that a dry run's virtual
// clock and a test's fake clock govern it too. perSecond <= 0 returns cloud
// unchanged: no budget.
func Limit(cloud compute.Cloud, clk clock.Clock, perSecond float64) compute.Cloud {
	if perSecond <= 0 {
		return cloud
	}
	return &limited{next: cloud, clk: clk, lim: rate.NewLimiter(rate.Limit(perSecond), 1)}
}

type limited struct {
	next compute.Cloud
	clk  clock.Clock
	lim  *rate.Limiter
}

// wait takes one token, sleeping on the clock until it is due.
func (c *limited) wait(ctx context.Context) error {
	now := c.clk.Now()
	r := c.lim.ReserveN(now, 1)
	if !r.OK() {
		return fmt.Errorf("nova request budget: no token can be reserved")
	}
	if d := r.DelayFrom(now); d > 0 {
		if err := c.clk.Sleep(ctx, d); err != nil {
			r.CancelAt(c.clk.Now())
			return fmt.Errorf("wait for the nova request budget: %w", err)
		}
	}
	return nil
}

func (c *limited) ListServers(ctx context.Context, host string) ([]compute.Server, error) {
	if err := c.wait(ctx); err != nil {
		return nil, err
	}
	return c.next.ListServers(ctx, host)
}

func (c *limited) ListServersChangedSince(ctx context.Context, since time.Time) ([]compute.Server, error) {
	if err := c.wait(ctx); err != nil {
		return nil, err
	}
	return c.next.ListServersChangedSince(ctx, since)
}

func (c *limited) GetServer(ctx context.Context, id string) (compute.Server, error) {
	if err := c.wait(ctx); err != nil {
		return compute.Server{}, err
	}
	return c.next.GetServer(ctx, id)
}

func (c *limited) ListServices(ctx context.Context, host, binary string) ([]compute.Service, error) {
	if err := c.wait(ctx); err != nil {
		return nil, err
	}
	return c.next.ListServices(ctx, host, binary)
}

func (c *limited) UpdateService(ctx context.Context, id string, u compute.ServiceUpdate) (compute.Service, error) {
	if err := c.wait(ctx); err != nil {
		return compute.Service{}, err
	}
	return c.next.UpdateService(ctx, id, u)
}

func (c *limited) Evacuate(ctx context.Context, id, target string) error {
	if err := c.wait(ctx); err != nil {
		return err
	}
	return c.next.Evacuate(ctx, id, target)
}

func (c *limited) ResetState(ctx context.Context, id, state string) error {
	if err := c.wait(ctx); err != nil {
		return err
	}
	return c.next.ResetState(ctx, id, state)
}

func (c *limited) Stop(ctx context.Context, id string) error {
	if err := c.wait(ctx); err != nil {
		return err
	}
	return c.next.Stop(ctx, id)
}

func (c *limited) Start(ctx context.Context, id string) error {
	if err := c.wait(ctx); err != nil {
		return err
	}
	return c.next.Start(ctx, id)
}

func (c *limited) Lock(ctx context.Context, id string) error {
	if err := c.wait(ctx); err != nil {
		return err
	}
	return c.next.Lock(ctx, id)
}

func (c *limited) Unlock(ctx context.Context, id string) error {
	if err := c.wait(ctx); err != nil {
		return err
	}
	return c.next.Unlock(ctx, id)
}

func (c *limited) ListAggregates(ctx context.Context) ([]compute.Aggregate, error) {
	if err := c.wait(ctx); err != nil {
		return nil, err
	}
	return c.next.ListAggregates(ctx)
}

func (c *limited) AddHostToAggregate(ctx context.Context, aggregateID int, host string) error {
	if err := c.wait(ctx); err != nil {
		return err
	}
	return c.next.AddHostToAggregate(ctx, aggregateID, host)
}
