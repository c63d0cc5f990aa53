package clock

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// Sim is a discrete-event clock for dry runs. Unlike Fake, a Sleep waits: the
// virtual time moves only when every participant of the run is waiting on
// the clock, and then straight to the earliest wake-up. Parallel waits thus
// overlap in virtual time as they do on the wall clock: ten goroutines
// sleeping 2 s each finish 2 s later, not 20 s.
//
// Participants run one at a time, each until it waits again, in the order
// their wake-ups are due; wake-ups due at the same instant run in the order
// they were asked for. So the same run, on the same inputs, gives the same
// timeline every time.
//
// The goroutine that calls NewSim is the first participant. Others join
// through Go or a Group; a participant leaves by returning from the function
// Go started, or with Leave. A participant must wait only through the clock
// (Sleep) and Groups: one blocked on anything else (a channel another
// participant writes, a timer's channel) stalls the run, since the clock
// takes it for running. Timers and tickers fire as the time passes them, for
// code outside the run; they do not move the time on their own.
type Sim struct {
	mu      sync.Mutex
	now     time.Time
	seq     uint64
	running int       // participants not waiting on the clock
	parked  int       // participants' wake-ups in events
	endable int       // of which Sleeps whose context can end
	events  eventHeap // wake-ups and timers, by time, then order of scheduling
}

// event is a participant's wake-up (wake set) or a timer (timer set).
type event struct {
	at      time.Time
	seq     uint64
	index   int           // in the heap; -1 when out of it
	wake    chan struct{} // closed when the participant runs again
	woken   bool
	ctx     context.Context // a Sleep's, when it can end
	ended   bool            // woken early because ctx ended
	granted bool            // a Group slot waiter that was given the slot
	timer   *simTimer
}

// NewSim returns a discrete-event clock that starts at start, with the
// calling goroutine as its one participant.
func NewSim(start time.Time) *Sim { return &Sim{now: start, running: 1} }

// Now returns the virtual time.
func (s *Sim) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

// Sleep waits until the virtual time has moved d on. If that would pass the
// deadline recorded in ctx, it wakes at the deadline and returns
// context.DeadlineExceeded. When ctx ends first it returns the context's
// error (and the participant then runs beside the others until it waits
// again).
func (s *Sim) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	s.mu.Lock()
	target := s.now.Add(d)
	var res error
	if dl, ok := Deadline(ctx); ok && target.After(dl) {
		if !dl.After(s.now) {
			s.mu.Unlock()
			return context.DeadlineExceeded
		}
		target, res = dl, context.DeadlineExceeded
	}
	e := s.newWakeLocked()
	if ctx.Done() != nil {
		e.ctx = ctx
		s.endable++
	}
	s.scheduleLocked(e, target)
	if !s.parkLocked(ctx, e) {
		// Ended from outside the run: this goroutine runs beside the
		// others until it waits again.
		s.unscheduleLocked(e)
		e.woken, e.ended = true, true
	}
	s.mu.Unlock()
	if e.ended {
		return ctx.Err()
	}
	return res
}

// Go runs f in a new goroutine that takes part in the run until f returns.
// It starts when the caller next waits.
func (s *Sim) Go(f func()) {
	s.mu.Lock()
	e := s.newWakeLocked()
	s.scheduleLocked(e, s.now)
	s.mu.Unlock()
	go func() {
		<-e.wake
		defer s.Leave()
		f()
	}()
}

// Leave ends the calling goroutine's part in the run: the clock no longer
// waits for it.
func (s *Sim) Leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running--
	s.dispatchLocked()
}

// NewTimer returns a timer that fires when the virtual time reaches d from
// now (at once when d <= 0).
func (s *Sim) NewTimer(d time.Duration) Timer { return s.addTimer(d, 0) }

// NewTicker returns a ticker that fires each time the virtual time passes
// another d. It panics if d <= 0, as time.NewTicker does.
func (s *Sim) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clock: non-positive interval for NewTicker")
	}
	return simTicker{s.addTimer(d, d)}
}

func (s *Sim) addTimer(d, period time.Duration) *simTimer {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &simTimer{s: s, period: period, c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- s.now
		return t
	}
	t.ev = &event{timer: t, index: -1}
	s.scheduleLocked(t.ev, s.now.Add(d))
	return t
}

// parkLocked makes the calling participant wait on the clock until e is
// woken or ctx ends; it is called and returns with s.mu held. It reports
// whether e was woken. If not, ctx ended first: the participant runs beside
// the others again, and the caller takes e out of whatever queue holds it.
func (s *Sim) parkLocked(ctx context.Context, e *event) bool {
	s.running--
	s.dispatchLocked()
	s.mu.Unlock()
	select {
	case <-e.wake:
	case <-ctx.Done():
	}
	s.mu.Lock()
	if e.woken {
		return true
	}
	s.running++
	return false
}

func (s *Sim) newWakeLocked() *event {
	return &event{index: -1, wake: make(chan struct{})}
}

// scheduleLocked queues e at at, after everything already queued for at.
func (s *Sim) scheduleLocked(e *event, at time.Time) {
	s.seq++
	e.at, e.seq = at, s.seq
	heap.Push(&s.events, e)
	if e.wake != nil {
		s.parked++
	}
}

// unscheduleLocked takes e out of the queue if it is in it.
func (s *Sim) unscheduleLocked(e *event) bool {
	if e.index < 0 {
		return false
	}
	heap.Remove(&s.events, e.index)
	if e.wake != nil {
		s.parked--
		if e.ctx != nil {
			s.endable--
		}
	}
	return true
}

// dispatchLocked runs the next participant once none is running, moving the
// time to its wake-up and firing the timers on the way.
func (s *Sim) dispatchLocked() {
	for s.running <= 0 && s.parked > 0 {
		if s.events[0].at.After(s.now) && s.endable > 0 {
			s.endSleepsLocked()
		}
		e := heap.Pop(&s.events).(*event)
		if e.at.After(s.now) {
			s.now = e.at
		}
		if t := e.timer; t != nil {
			t.fireLocked()
			continue
		}
		s.parked--
		if e.ctx != nil {
			s.endable--
		}
		e.woken = true
		s.running++
		close(e.wake)
	}
}

// endSleepsLocked brings the wake-ups of Sleeps whose context ended forward
// to now, before the time moves on: a participant that cancels another's
// context sees it wake at the instant of the cancel, whatever the goroutine
// scheduling. They then run in the order they went to sleep.
func (s *Sim) endSleepsLocked() {
	var ended []*event
	for _, e := range s.events {
		if e.ctx != nil && e.ctx.Err() != nil {
			ended = append(ended, e)
		}
	}
	for _, e := range ended {
		e.at, e.ended = s.now, true
		heap.Fix(&s.events, e.index)
	}
}

type simTimer struct {
	s      *Sim
	period time.Duration
	c      chan time.Time
	ev     *event
}

func (t *simTimer) fireLocked() {
	select {
	case t.c <- t.ev.at:
	default:
	}
	if t.period > 0 {
		t.s.scheduleLocked(t.ev, t.ev.at.Add(t.period))
	}
}

func (t *simTimer) C() <-chan time.Time { return t.c }

func (t *simTimer) Stop() bool {
	if t.ev == nil {
		return false
	}
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	return t.s.unscheduleLocked(t.ev)
}

type simTicker struct{ t *simTimer }

func (t simTicker) C() <-chan time.Time { return t.t.c }
func (t simTicker) Stop()               { t.t.Stop() }

// eventHeap orders events by time, then by order of scheduling.
type eventHeap []*event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *eventHeap) Push(x any) {
	e := x.(*event)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	e.index = -1
	*h = old[:len(old)-1]
	return e
}
