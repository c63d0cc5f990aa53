package clock

import (
	"context"
	"sync"
	"time"
)

// Group runs functions in goroutines, at most limit at a time, and waits for
// them: a bounded sync.WaitGroup. On a Sim its goroutines take part in the
// run, and waiting for a slot or for the group counts as waiting on the
// clock, so that parallel work overlaps in virtual time. For many short
// functions of one kind (a host's evacuations, one per server), Each costs
// less.
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
	go func() {
		defer func() {
			<-g.slots
			g.wg.Done()
		}()
		f()
	}()
	return nil
}

// Wait waits until every function Go started has returned.
func (g *Group) Wait() {
	if g.sim == nil {
		g.wg.Wait()
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

// Each calls run(0), …, run(n-1), at most limit at a time, in the order of
// the indices, and waits for the calls to return. begin, when not nil, is
// called for each index as its turn comes, one at a time and in the order of
// the indices (a progress line per index stays in order). An index whose
// turn comes once ctx has ended or the clock deadline recorded in it has
// passed is not run: a caller tells such a run by the context.
//
// On a Sim the calls run in a Group, so that they overlap in virtual time.
// On any other clock each of at most limit goroutines, the caller's among
// them, takes the next index as soon as its call returns: nothing is handed
// from one goroutine to another per index, which for a host's evacuations
// on a fast cloud cost more than the evacuations.
func Each(ctx context.Context, clk Clock, limit, n int, begin, run func(i int)) {
	if begin == nil {
		begin = func(int) {}
	}
	limit = max(limit, 1)
	if s, ok := clk.(*Sim); ok {
		g := NewGroup(s, limit)
		for i := range n {
			begin(i)
			if g.Go(ctx, func() { run(i) }) != nil {
				break
			}
		}
		g.Wait()
		return
	}
	workers := min(limit, n)
	if workers == 0 || expired(ctx, clk) != nil {
		return
	}
	// The first indices are given out at once, as Go would start them:
	// on a Fake clock the caller's first call may move the time past the
	// deadline before another goroutine has begun.
	for i := range workers {
		begin(i)
	}
	var mu sync.Mutex
	next := workers
	take := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if next >= n || expired(ctx, clk) != nil {
			return 0, false
		}
		i := next
		next++
		begin(i)
		return i, true
	}
	work := func(i int) {
		for ok := true; ok; i, ok = take() {
			run(i)
		}
	}
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Go(func() { work(w) })
	}
	work(0)
	wg.Wait()
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
