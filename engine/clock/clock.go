// Package clock gives tasks, the simulated cloud and the Lua sandbox one notion
// of time, so that tests can play minutes of recovery in milliseconds.
package clock

import (
	"context"
	"sync"
	"time"
)

// Clock tells the time and waits. Every wait in kaifuku goes through a Clock:
// no task calls time.Sleep directly.
type Clock interface {
	Now() time.Time
	// Sleep waits d, or until ctx ends or the deadline set by WithDeadline
	// passes; it then returns the context's error.
	Sleep(ctx context.Context, d time.Duration) error
}

type deadlineKey struct{}

// WithDeadline records a deadline measured on a Clock (which may be fake) in
// ctx. Fake clocks honour it in Sleep; real time is covered by the context's
// own deadline, which the caller sets as well.
func WithDeadline(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, deadlineKey{}, t)
}

// Deadline returns the clock deadline recorded by WithDeadline.
func Deadline(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(deadlineKey{}).(time.Time)
	return t, ok
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// Sleep waits on a timer.
func (Real) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Fake is a virtual clock: Sleep advances it at once instead of waiting.
// Concurrent sleepers each advance it, so durations measured under parallel
// sleeps are upper bounds; that is the price of never blocking.
type Fake struct {
	mu  sync.Mutex
	now time.Time
}

// NewFake returns a fake clock that starts at start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now returns the virtual time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the virtual time forward by d.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// Sleep advances the virtual time by d. If that would pass the deadline
// recorded in ctx, the clock stops at the deadline and Sleep returns
// context.DeadlineExceeded.
func (f *Fake) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	target := f.now.Add(d)
	if dl, ok := Deadline(ctx); ok && target.After(dl) {
		if dl.After(f.now) {
			f.now = dl
		}
		return context.DeadlineExceeded
	}
	if d > 0 {
		f.now = target
	}
	return nil
}
