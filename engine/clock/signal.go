package clock

import (
	"context"
	"sync"
)

// Signal is a one-shot wake-up from one goroutine to another: Wait blocks
// until Fire. On a Sim, a participant in Wait counts as waiting on the
// clock, and Fire lets it run again at the current virtual time, after what
// is already due then; so code that hands work out in turn (a semaphore, a
// queue) keeps a dry run's time moving. Fire may come before Wait.
type Signal struct {
	sim *Sim

	// On a Sim, guarded by its mutex; on any other clock, by mu.
	mu    sync.Mutex
	fired bool
	ch    chan struct{} // closed by Fire, on other clocks
	e     *event        // the Sim participant waiting, if any
}

// NewSignal returns a signal that has not fired, on clk.
func NewSignal(clk Clock) *Signal {
	if s, ok := clk.(*Sim); ok {
		return &Signal{sim: s}
	}
	return &Signal{ch: make(chan struct{})}
}

// Fire wakes the goroutine in Wait, or the next one to call it. Firing
// again does nothing.
func (g *Signal) Fire() {
	if g.sim == nil {
		g.mu.Lock()
		defer g.mu.Unlock()
		if !g.fired {
			g.fired = true
			close(g.ch)
		}
		return
	}
	s := g.sim
	s.mu.Lock()
	defer s.mu.Unlock()
	if g.fired {
		return
	}
	g.fired = true
	if g.e != nil {
		s.scheduleLocked(g.e, s.now)
		s.dispatchLocked()
	}
}

// Wait blocks until the signal fires, or returns ctx's error if ctx ends
// first. A Wait that returns nil saw the signal fire. Off a Sim, a pool of
// Each in ctx is told before it blocks (Waiting).
func (g *Signal) Wait(ctx context.Context) error {
	if g.sim == nil {
		select {
		case <-g.ch:
			return nil
		default:
		}
		Waiting(ctx)
		select {
		case <-g.ch:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s := g.sim
	s.mu.Lock()
	if g.fired {
		s.mu.Unlock()
		return nil
	}
	if err := ctx.Err(); err != nil {
		s.mu.Unlock()
		return err
	}
	e := s.newWakeLocked()
	g.e = e
	defer s.mu.Unlock()
	if s.parkLocked(ctx, e) {
		return nil
	}
	// Ended from outside the run before its turn: out of the queue (when
	// it fired meanwhile).
	s.unscheduleLocked(e)
	e.woken = true
	g.e = nil
	return ctx.Err()
}
