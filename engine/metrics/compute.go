package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine/compute"
)

// Compute returns c counting every call by operation and outcome
// (kaifuku_nova_calls_total) and timing it (kaifuku_nova_call_duration_seconds).
// A call is one operation as a task asks for it, retries included.
func (m *Metrics) Compute(c compute.Cloud) compute.Cloud { return &observedCloud{c: c, m: m} }

type observedCloud struct {
	c compute.Cloud
	m *Metrics
}

var _ compute.Cloud = (*observedCloud)(nil)

// outcome names a call's result by the kind of its error.
func outcome(err error) string {
	switch {
	case err == nil:
		return "success"
	case errors.Is(err, compute.ErrInvalid):
		return "invalid"
	case errors.Is(err, compute.ErrForbidden):
		return "forbidden"
	case errors.Is(err, compute.ErrNotFound):
		return "not_found"
	case errors.Is(err, compute.ErrConflict):
		return "conflict"
	case errors.Is(err, compute.ErrUnavailable):
		return "unavailable"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "cancelled"
	default:
		return "error"
	}
}

// observe runs one call of operation op and records it.
func observe[T any](o *observedCloud, op string, call func() (T, error)) (T, error) {
	begun := time.Now()
	v, err := call()
	o.m.novaCalls.WithLabelValues(op, outcome(err)).Inc()
	o.m.novaTime.WithLabelValues(op).Observe(time.Since(begun).Seconds())
	return v, err
}

// observeErr is observe for the calls that return only an error.
func observeErr(o *observedCloud, op string, call func() error) error {
	_, err := observe(o, op, func() (struct{}, error) { return struct{}{}, call() })
	return err
}

func (o *observedCloud) ListServers(ctx context.Context, host string) ([]compute.Server, error) {
	return observe(o, "list_servers", func() ([]compute.Server, error) { return o.c.ListServers(ctx, host) })
}

func (o *observedCloud) ListServersChangedSince(ctx context.Context, since time.Time) ([]compute.Server, error) {
	return observe(o, "list_servers_changed", func() ([]compute.Server, error) { return o.c.ListServersChangedSince(ctx, since) })
}

func (o *observedCloud) GetServer(ctx context.Context, id string) (compute.Server, error) {
	return observe(o, "get_server", func() (compute.Server, error) { return o.c.GetServer(ctx, id) })
}

func (o *observedCloud) ListServices(ctx context.Context, host, binary string) ([]compute.Service, error) {
	return observe(o, "list_services", func() ([]compute.Service, error) { return o.c.ListServices(ctx, host, binary) })
}

func (o *observedCloud) UpdateService(ctx context.Context, id string, u compute.ServiceUpdate) (compute.Service, error) {
	return observe(o, "update_service", func() (compute.Service, error) { return o.c.UpdateService(ctx, id, u) })
}

func (o *observedCloud) Evacuate(ctx context.Context, id, target string) error {
	return observeErr(o, "evacuate", func() error { return o.c.Evacuate(ctx, id, target) })
}

func (o *observedCloud) ResetState(ctx context.Context, id, state string) error {
	return observeErr(o, "reset_state", func() error { return o.c.ResetState(ctx, id, state) })
}

func (o *observedCloud) Stop(ctx context.Context, id string) error {
	return observeErr(o, "stop", func() error { return o.c.Stop(ctx, id) })
}

func (o *observedCloud) Start(ctx context.Context, id string) error {
	return observeErr(o, "start", func() error { return o.c.Start(ctx, id) })
}

func (o *observedCloud) Lock(ctx context.Context, id string) error {
	return observeErr(o, "lock", func() error { return o.c.Lock(ctx, id) })
}

func (o *observedCloud) Unlock(ctx context.Context, id string) error {
	return observeErr(o, "unlock", func() error { return o.c.Unlock(ctx, id) })
}

func (o *observedCloud) ListAggregates(ctx context.Context) ([]compute.Aggregate, error) {
	return observe(o, "list_aggregates", func() ([]compute.Aggregate, error) { return o.c.ListAggregates(ctx) })
}

func (o *observedCloud) AddHostToAggregate(ctx context.Context, aggregateID int, host string) error {
	return observeErr(o, "add_host_to_aggregate", func() error { return o.c.AddHostToAggregate(ctx, aggregateID, host) })
}
