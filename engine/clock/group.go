package clock

import (
	"context"
	"sync"
	"time"
)

// Group runs functions in goroutines, at most limit at a time, and waits for
// them: a bounded sync.WaitGroup. On a Sim its goroutines take part in the
// run, and waiting for a slot or for the group counts as waiting on the
// clock, so that parallel work overlaps in virtual time.
//
// On any other clock a goroutine whose function has returned runs the next
// function Go is given, until Wait returns: a host's evacuations, one per
// server, then cost a goroutine (and the growth of its stack) per slot, not
// per server. Call Wait once the functions are given.
type Group struct {
	clk   Clock
	limit int

	// On a Sim, guarded by its mutex.
	sim     *Sim
	n       int      // goroutines running or granted a slot
	slotQ   []*event // Go calls waiting for a slot, in arrival order
	waiters []*event // Wait calls

	// On any other clock.
	slots chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	idle  []chan func() // goroutines done with their function, waiting for another
}

// NewGroup returns a group of at most limit goroutines at a time (at least
// one) on clk.
func NewGroup(clk Clock, limit int) *Group {
	limit = max(limit, 1)
	g := &Group{clk: clk, limit: limit}
	if s, ok := clk.(*Sim); ok {
		g.sim = s
	} else {
		g.slots = make(chan struct{}, limit)
	}
	return g
}

// Go waits for a free slot and runs f in a new goroutine. If ctx ends, or the
// clock deadline recorded in ctx passes, before f could start, it returns
// the context's error (context.DeadlineExceeded for the clock deadline) and
// f is not run.
func (g *Group) Go(ctx context.Context, f func()) error {
	if g.sim != nil {
		return g.simGo(ctx, f)
	}
	select {
	case g.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := expired(ctx, g.clk); err != nil {
		<-g.slots
		return err
	}
	g.wg.Add(1)
	g.mu.Lock()
	if n := len(g.idle); n > 0 {
		next := g.idle[n-1]
		g.idle = g.idle[:n-1]
		g.mu.Unlock()
		next <- f
		return nil
	}
	g.mu.Unlock()
	go g.run(f)
	return nil
}

// run runs f, then each function Go hands it, until Wait lets it go.
func (g *Group) run(f func()) {
	next := make(chan func(), 1)
	for f != nil {
		f()
		// Idle before the slot is free: the Go that takes the slot finds
		// this goroutine.
		g.mu.Lock()
		g.idle = append(g.idle, next)
		g.mu.Unlock()
		g.wg.Done()
		<-g.slots
		f = <-next
	}
}

// Wait waits until every function Go started has returned.
func (g *Group) Wait() {
	if g.sim == nil {
		g.wg.Wait()
		g.mu.Lock()
		for _, next := range g.idle {
			next <- nil
		}
		g.idle = nil
		g.mu.Unlock()
		return
	}
	s := g.sim
	s.mu.Lock()
	if g.n == 0 && len(g.slotQ) == 0 {
		s.mu.Unlock()
		return
	}
	e := s.newWakeLocked()
	g.waiters = append(g.waiters, e)
	s.parkLocked(context.Background(), e)
	s.mu.Unlock()
}

func (g *Group) simGo(ctx context.Context, f func()) error {
	if err := expired(ctx, g.clk); err != nil {
		return err
	}
	s := g.sim
	s.mu.Lock()
	if g.n < g.limit {
		g.n++
	} else {
		e := s.newWakeLocked()
		g.slotQ = append(g.slotQ, e)
		if !s.parkLocked(ctx, e) {
			// Cancelled before its turn: out of the queue.
			g.dropLocked(e)
			if e.granted {
				g.releaseLocked()
			}
			s.mu.Unlock()
			return ctx.Err()
		}
		if err := expiredAt(ctx, s.now); err != nil {
			g.releaseLocked()
			s.mu.Unlock()
			return err
		}
	}
	s.mu.Unlock()
	s.Go(func() {
		defer func() {
			s.mu.Lock()
			g.releaseLocked()
			s.mu.Unlock()
		}()
		f()
	})
	return nil
}

// releaseLocked frees a slot: the first waiting Go gets it, or, when the
// group is empty, the Wait calls end. Both run at the current virtual time,
// after what is already due then.
func (g *Group) releaseLocked() {
	s := g.sim
	g.n--
	if len(g.slotQ) > 0 {
		e := g.slotQ[0]
		g.slotQ = g.slotQ[1:]
		g.n++
		e.granted = true
		s.scheduleLocked(e, s.now)
		return
	}
	if g.n == 0 {
		for _, e := range g.waiters {
			s.scheduleLocked(e, s.now)
		}
		g.waiters = nil
	}
}

// dropLocked takes a slot waiter out of the slot queue or the clock's queue.
func (g *Group) dropLocked(e *event) {
	if g.sim.unscheduleLocked(e) {
		return
	}
	for i, w := range g.slotQ {
		if w == e {
			g.slotQ = append(g.slotQ[:i], g.slotQ[i+1:]...)
			return
		}
	}
}

// expired reports whether ctx ended or the clock deadline recorded in it
// passed.
func expired(ctx context.Context, clk Clock) error {
	return expiredAt(ctx, clk.Now())
}

// expiredAt is expired at the time now.
func expiredAt(ctx context.Context, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := Deadline(ctx); ok && !now.Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}
