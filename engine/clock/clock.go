// Package clock gives tasks, the simulated cloud, the Lua sandbox, the
// notification service and the database one notion of time, so that tests
// can play minutes of recovery in milliseconds.
package clock

import (
	"context"
	"sync"
	"sync/atomic"
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

// Timers is a Clock that also makes timers and tickers, for loops that wait
// on time and on other events at once (the service's polls, periodic tasks
// and lease renewals). Real and Fake implement it.
type Timers interface {
	Clock
	// NewTimer returns a timer that fires once, d from now.
	NewTimer(d time.Duration) Timer
	// NewTicker returns a ticker that fires every d (d > 0). Like
	// time.Ticker, it drops ticks that a slow receiver does not take.
	NewTicker(d time.Duration) Ticker
}

// Timer is a one-shot timer of a Clock.
type Timer interface {
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it was
	// still pending.
	Stop() bool
}

// Ticker is a periodic timer of a Clock.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

type deadlineKey struct{}

// WithDeadline records a deadline measured on a Clock (which may be fake) in
// ctx. Fake clocks honour it in Sleep; real time is covered by the context's
// own deadline, which the caller sets as well.
func WithDeadline(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, deadlineKey{}, t)
}

// WithoutDeadline hides from ctx the clock deadline WithDeadline recorded in
// it (the context's own deadline is the caller's to drop).
func WithoutDeadline(ctx context.Context) context.Context {
	return context.WithValue(ctx, deadlineKey{}, nil)
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

// Sleep waits on a timer; a pool of Each in ctx is told (Waiting).
func (Real) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	Waiting(ctx)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// NewTimer wraps time.NewTimer.
func (Real) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

// NewTicker wraps time.NewTicker.
func (Real) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

type realTimer struct{ t *time.Timer }

func (t realTimer) C() <-chan time.Time { return t.t.C }
func (t realTimer) Stop() bool          { return t.t.Stop() }

type realTicker struct{ t *time.Ticker }

func (t realTicker) C() <-chan time.Time { return t.t.C }
func (t realTicker) Stop()               { t.t.Stop() }

// Fake is a virtual clock: Sleep advances it at once instead of waiting.
// Concurrent sleepers each advance it, so durations measured under parallel
// sleeps are upper bounds; that is the price of never blocking.
//
// Its timers and tickers fire when the virtual time reaches them, whether
// Advance or a Sleep moved it there; BlockUntil lets a test wait until the
// code under test has set the timers it is about to wait on.
type Fake struct {
	mu    sync.Mutex
	start time.Time
	// off is the virtual time's distance from start, read without mu (Now
	// is called far more often than the time moves) and written under it.
	off     atomic.Int64
	waiters []*fakeWaiter // pending timers and tickers
	changed chan struct{} // closed and replaced when waiters change
}

// fakeWaiter is a pending timer (period 0) or ticker of a Fake.
type fakeWaiter struct {
	f      *Fake
	at     time.Time
	period time.Duration
	c      chan time.Time
}

// NewFake returns a fake clock that starts at start.
func NewFake(start time.Time) *Fake { return &Fake{start: start} }

// Now returns the virtual time.
func (f *Fake) Now() time.Time {
	return f.start.Add(time.Duration(f.off.Load()))
}

// Advance moves the virtual time forward by d, firing the timers and
// tickers it reaches.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d > 0 {
		f.setLocked(f.Now().Add(d))
	}
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
	now := f.Now()
	target := now.Add(d)
	if dl, ok := Deadline(ctx); ok && target.After(dl) {
		if dl.After(now) {
			f.setLocked(dl)
		}
		return context.DeadlineExceeded
	}
	if d > 0 {
		f.setLocked(target)
	}
	return nil
}

// NewTimer returns a timer that fires when the virtual time reaches d from
// now (at once when d <= 0).
func (f *Fake) NewTimer(d time.Duration) Timer {
	return f.add(d, 0)
}

// NewTicker returns a ticker that fires each time the virtual time passes
// another d. It panics if d <= 0, as time.NewTicker does.
func (f *Fake) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clock: non-positive interval for NewTicker")
	}
	return fakeTicker{f.add(d, d)}
}

// Pending is the number of timers and tickers set and not yet fired or
// stopped.
func (f *Fake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}

// BlockUntil waits until at least n timers and tickers are pending, or ctx
// ends (it then returns the context's error).
func (f *Fake) BlockUntil(ctx context.Context, n int) error {
	for {
		f.mu.Lock()
		if len(f.waiters) >= n {
			f.mu.Unlock()
			return nil
		}
		changed := f.changedLocked()
		f.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (f *Fake) add(d, period time.Duration) *fakeWaiter {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.Now()
	w := &fakeWaiter{f: f, at: now.Add(d), period: period, c: make(chan time.Time, 1)}
	if d <= 0 {
		w.c <- now
		return w
	}
	f.waiters = append(f.waiters, w)
	f.notifyLocked()
	return w
}

// setLocked moves the time to now and fires what it reaches: a timer once
// (it is then no longer pending), a ticker once however many periods passed,
// as a time.Ticker does for a slow receiver.
func (f *Fake) setLocked(now time.Time) {
	f.off.Store(int64(now.Sub(f.start)))
	kept := f.waiters[:0]
	fired := false
	for _, w := range f.waiters {
		if w.at.After(now) {
			kept = append(kept, w)
			continue
		}
		select {
		case w.c <- w.at:
		default:
		}
		if w.period > 0 {
			for !w.at.After(now) {
				w.at = w.at.Add(w.period)
			}
			kept = append(kept, w)
			continue
		}
		fired = true
	}
	clear(f.waiters[len(kept):])
	f.waiters = kept
	if fired {
		f.notifyLocked()
	}
}

// stop removes w; it reports whether w was pending.
func (w *fakeWaiter) stop() bool {
	f := w.f
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, p := range f.waiters {
		if p == w {
			f.waiters = append(f.waiters[:i], f.waiters[i+1:]...)
			f.notifyLocked()
			return true
		}
	}
	return false
}

func (f *Fake) changedLocked() chan struct{} {
	if f.changed == nil {
		f.changed = make(chan struct{})
	}
	return f.changed
}

func (f *Fake) notifyLocked() {
	if f.changed != nil {
		close(f.changed)
		f.changed = nil
	}
}

func (w *fakeWaiter) C() <-chan time.Time { return w.c }
func (w *fakeWaiter) Stop() bool          { return w.stop() }

type fakeTicker struct{ w *fakeWaiter }

func (t fakeTicker) C() <-chan time.Time { return t.w.c }
func (t fakeTicker) Stop()               { t.w.stop() }
