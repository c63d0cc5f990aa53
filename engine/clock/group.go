package clock

import (
	"context"
	"sync"
	"sync/atomic"
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

// Each calls run(ctx, 0), …, run(ctx, n-1), at most limit at a time, in the
// order of the indices, and waits for the calls to return. begin, when not
// nil, is called for each index as its turn comes, one at a time and in the
// order of the indices (a progress line per index stays in order). The
// first min(limit, n) indices are given out at once, as goroutines started
// together would take them, and run whatever the time; an index whose turn
// comes later, once ctx has ended or the clock deadline recorded in it has
// passed, is not run: a caller tells such a run by the context.
//
// On a Sim the calls run in a Group, so that they overlap in virtual time.
// On any other clock the calls start one after another on the caller's
// goroutine, and another goroutine joins, up to limit in all, each time a
// call waits for something other than the CPU: a call that tells so by
// calling Waiting with the ctx Each gave it (a sleep on the real clock, a
// wait for a Signal, a Nova request, a database commit do). Every goroutine
// takes the next index as soon as its call returns. On a cloud that answers
// at once the calls then run on one goroutine, which costs less than
// running them on several cores contending for the same locks; on one that
// makes them wait, limit goroutines are running within limit waits.
func Each(ctx context.Context, clk Clock, limit, n int, begin func(i int), run func(ctx context.Context, i int)) {
	if begin == nil {
		begin = func(int) {}
	}
	limit = max(limit, 1)
	if s, ok := clk.(*Sim); ok {
		g := NewGroup(s, limit)
		for i := range n {
			begin(i)
			if g.Go(ctx, func() { run(ctx, i) }) != nil {
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
	for i := range workers {
		begin(i)
	}
	p := &pool{clk: clk, n: n, limit: workers, given: workers, workers: 1, begin: begin, run: run}
	p.full.Store(workers == 1)
	p.ctx = context.WithValue(ctx, poolKey{}, p)
	p.work()
	p.wg.Wait()
}

// Waiting tells the pool of Each that gave ctx to the caller, if any, that
// the caller is about to wait for something other than the CPU, so that
// another goroutine may take the next index meanwhile. Without such a pool
// it does nothing; it is cheap once the pool has all its goroutines.
func Waiting(ctx context.Context) {
	if p, ok := ctx.Value(poolKey{}).(*pool); ok && !p.full.Load() {
		p.grow()
	}
}

type poolKey struct{}

// pool is the goroutines of one call of Each off a Sim.
type pool struct {
	ctx   context.Context // Each's, carrying the pool
	clk   Clock
	n     int
	limit int // goroutines at most, the caller's among them
	given int // indices given out at once: run whatever the time
	begin func(int)
	run   func(context.Context, int)

	full atomic.Bool // no goroutine will join any more
	wg   sync.WaitGroup

	mu      sync.Mutex
	next    int // the next index to take
	workers int // goroutines running work, the caller's among them
}

// work runs the next index until there is none.
func (p *pool) work() {
	for i, ok := p.take(); ok; i, ok = p.take() {
		p.run(p.ctx, i)
	}
}

// take returns the next index to run, calling begin for it unless it was
// given out at once; ok is false once none is left or the time is up.
func (p *pool) take() (i int, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next >= p.n {
		p.full.Store(true)
		return 0, false
	}
	if p.next >= p.given {
		if expired(p.ctx, p.clk) != nil {
			p.next = p.n
			p.full.Store(true)
			return 0, false
		}
		p.begin(p.next)
	}
	i = p.next
	p.next++
	return i, true
}

// grow starts another goroutine, unless the pool has limit of them or no
// index is left for it.
func (p *pool) grow() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.workers >= p.limit || p.next >= p.n {
		p.full.Store(true)
		return
	}
	p.workers++
	p.full.Store(p.workers >= p.limit)
	p.wg.Go(p.work)
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
