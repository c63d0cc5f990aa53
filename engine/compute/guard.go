package compute

import "context"

type guardKey struct{}

// WithWriteGuard returns ctx carrying guard, which a Guarded cloud asks
// before every write made under ctx: the recovery service sets one that
// refuses once the run's lease has expired, because another engine may
// then hold the notification.
func WithWriteGuard(ctx context.Context, guard func() error) context.Context {
	return context.WithValue(ctx, guardKey{}, guard)
}

// mayWrite is the refusal of ctx's write guard, if any.
func mayWrite(ctx context.Context) error {
	if g, ok := ctx.Value(guardKey{}).(func() error); ok {
		return g()
	}
	return nil
}

// Guarded returns c with every write (service updates, evacuations, state
// resets, stops, starts, locks and aggregate changes) checked against the
// write guard of its context first; reads pass. What remains is the time
// between the check and the request reaching the cloud.
func Guarded(c Cloud) Cloud { return guarded{c} }

type guarded struct{ Cloud }

func (g guarded) UpdateService(ctx context.Context, id string, u ServiceUpdate) (Service, error) {
	if err := mayWrite(ctx); err != nil {
		return Service{}, err
	}
	return g.Cloud.UpdateService(ctx, id, u)
}

func (g guarded) Evacuate(ctx context.Context, id, target string) error {
	return g.write(ctx, func() error { return g.Cloud.Evacuate(ctx, id, target) })
}

func (g guarded) ResetState(ctx context.Context, id, state string) error {
	return g.write(ctx, func() error { return g.Cloud.ResetState(ctx, id, state) })
}

func (g guarded) Stop(ctx context.Context, id string) error {
	return g.write(ctx, func() error { return g.Cloud.Stop(ctx, id) })
}

func (g guarded) Start(ctx context.Context, id string) error {
	return g.write(ctx, func() error { return g.Cloud.Start(ctx, id) })
}

func (g guarded) Lock(ctx context.Context, id string) error {
	return g.write(ctx, func() error { return g.Cloud.Lock(ctx, id) })
}

func (g guarded) Unlock(ctx context.Context, id string) error {
	return g.write(ctx, func() error { return g.Cloud.Unlock(ctx, id) })
}

func (g guarded) AddHostToAggregate(ctx context.Context, aggregateID int, host string) error {
	return g.write(ctx, func() error { return g.Cloud.AddHostToAggregate(ctx, aggregateID, host) })
}

func (g guarded) write(ctx context.Context, call func() error) error {
	if err := mayWrite(ctx); err != nil {
		return err
	}
	return call()
}
