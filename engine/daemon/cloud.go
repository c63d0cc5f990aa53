package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/kaifuku-ha/kaifuku/engine/fence"
)

// Default back-offs of the background connection to the compute backend.
const (
	defaultCloudBackoff    = time.Second
	defaultCloudBackoffMax = 30 * time.Second
)

// lateCloud is the compute backend of a daemon whose cloud could not be
// reached at start (Keystone or Nova down): the API serves meanwhile, every
// compute call fails as unavailable, and connect keeps building the cloud in
// the background until it answers. The flows and the API hold the lateCloud
// itself, so they use the real cloud as soon as it is there.
type lateCloud struct {
	mu    sync.Mutex
	cloud compute.Cloud // nil until connected
	err   error         // the last failure to connect
	since time.Time     // when the cloud became unavailable
}

var _ compute.Cloud = (*lateCloud)(nil)

// computeState is what /healthz says of the compute backend.
type computeState struct {
	available bool
	err       error
	since     time.Time
}

func (l *lateCloud) state() computeState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return computeState{available: l.cloud != nil, err: l.err, since: l.since}
}

func (l *lateCloud) get() (compute.Cloud, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cloud == nil {
		return nil, fmt.Errorf("not connected to the compute backend yet (%v): %w", l.err, compute.ErrUnavailable)
	}
	return l.cloud, nil
}

func (l *lateCloud) failed(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.err = err
	if l.since.IsZero() {
		l.since = time.Now()
	}
}

func (l *lateCloud) set(c compute.Cloud) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cloud, l.err = c, nil
}

// unreachable reports whether a failure to build the cloud is the cloud's
// (it may answer later) rather than the configuration's.
func unreachable(err error) bool { return errors.Is(err, compute.ErrUnavailable) }

// connect builds the cloud of cfg until it succeeds or ctx ends, waiting
// between attempts from first doubling up to longest. A failure that is not the
// cloud being unreachable (a refused password, a missing catalog entry)
// does not get better by asking again: it is logged as an error, and the
// attempts go on at the longest back-off so that a fixed Keystone is seen.
// It returns the cloud built, or nil when ctx ended first.
func (d *Daemon) connect(ctx context.Context, cfg *conf.Config, first, longest time.Duration) *Cloud {
	wait := first
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		c, err := d.deps.Cloud(ctx, cfg)
		if err == nil {
			return &c
		}
		if ctx.Err() != nil {
			return nil
		}
		d.late.failed(err)
		wait = min(wait*2, longest)
		if unreachable(err) {
			d.log.Warnf("compute still unavailable, retrying in %s: %v", wait, err)
		} else {
			wait = longest
			d.log.Errorf("compute: %v (retrying in %s)", err, wait)
		}
	}
}

func (l *lateCloud) ListServers(ctx context.Context, host string) ([]compute.Server, error) {
	c, err := l.get()
	if err != nil {
		return nil, err
	}
	return c.ListServers(ctx, host)
}

func (l *lateCloud) ListServersChangedSince(ctx context.Context, since time.Time) ([]compute.Server, error) {
	c, err := l.get()
	if err != nil {
		return nil, err
	}
	return c.ListServersChangedSince(ctx, since)
}

func (l *lateCloud) GetServer(ctx context.Context, id string) (compute.Server, error) {
	c, err := l.get()
	if err != nil {
		return compute.Server{}, err
	}
	return c.GetServer(ctx, id)
}

func (l *lateCloud) ListServices(ctx context.Context, host, binary string) ([]compute.Service, error) {
	c, err := l.get()
	if err != nil {
		return nil, err
	}
	return c.ListServices(ctx, host, binary)
}

func (l *lateCloud) UpdateService(ctx context.Context, id string, u compute.ServiceUpdate) (compute.Service, error) {
	c, err := l.get()
	if err != nil {
		return compute.Service{}, err
	}
	return c.UpdateService(ctx, id, u)
}

func (l *lateCloud) Evacuate(ctx context.Context, id, target string) error {
	c, err := l.get()
	if err != nil {
		return err
	}
	return c.Evacuate(ctx, id, target)
}

func (l *lateCloud) ResetState(ctx context.Context, id, state string) error {
	c, err := l.get()
	if err != nil {
		return err
	}
	return c.ResetState(ctx, id, state)
}

func (l *lateCloud) Stop(ctx context.Context, id string) error {
	c, err := l.get()
	if err != nil {
		return err
	}
	return c.Stop(ctx, id)
}

func (l *lateCloud) Start(ctx context.Context, id string) error {
	c, err := l.get()
	if err != nil {
		return err
	}
	return c.Start(ctx, id)
}

func (l *lateCloud) Lock(ctx context.Context, id string) error {
	c, err := l.get()
	if err != nil {
		return err
	}
	return c.Lock(ctx, id)
}

func (l *lateCloud) Unlock(ctx context.Context, id string) error {
	c, err := l.get()
	if err != nil {
		return err
	}
	return c.Unlock(ctx, id)
}

func (l *lateCloud) ListAggregates(ctx context.Context) ([]compute.Aggregate, error) {
	c, err := l.get()
	if err != nil {
		return nil, err
	}
	return c.ListAggregates(ctx)
}

func (l *lateCloud) AddHostToAggregate(ctx context.Context, aggregateID int, host string) error {
	c, err := l.get()
	if err != nil {
		return err
	}
	return c.AddHostToAggregate(ctx, aggregateID, host)
}

// withDevices is the compute port together with the fencing devices of the
// cloud behind it.
type withDevices struct {
	compute.Cloud
	fence.Devices
}
