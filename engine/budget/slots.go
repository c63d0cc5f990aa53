// Package budget shares Nova between the host recoveries of one engine: a
// bound on concurrent evacuations across all of them (Slots), granted fairly
// — to the waiting host holding the fewest, in turn between hosts holding as
// many, HA-enabled servers first within a host — and an optional budget of Nova requests per second
// (Limit), a token bucket in front of every call to the cloud. The daemon
// makes one of each and hands them to every host recovery, so no state is
// global and a test makes its own.
package budget

import (
	"context"
	"sync"

	"github.com/kaifuku-ha/kaifuku/engine/clock"
)

// Slots bounds the evacuations in flight across every host recovery. A zero
// or negative limit means unlimited.
type Slots struct {
	clk    clock.Clock
	mu     sync.Mutex
	limit  int
	n      int                   // slots granted and not released
	held   map[string]int        // of those, per host
	ring   []string              // hosts with waiters, in round-robin order
	next   int                   // index in ring of the host served next
	queues map[string]*hostQueue // waiters per host
}

type hostQueue struct{ ha, other []*waiter }

type waiter struct {
	sig     *clock.Signal // fired when granted
	granted bool
}

// NewSlots returns slots for at most limit evacuations at once (limit <= 0:
// unlimited) on clk: on a dry run's discrete-event clock, waiting for a slot
// is waiting on the clock.
func NewSlots(clk clock.Clock, limit int) *Slots {
	return &Slots{clk: clk, limit: limit, held: map[string]int{}, queues: map[string]*hostQueue{}}
}

// Acquire waits for a slot for one evacuation from host; ha marks a server
// with HA metadata, served before the host's other servers. A free slot goes
// to the waiting host that holds the fewest, so a host whose recovery starts
// while another's holds every slot gets its share from the next ones freed;
// hosts holding as many are served in turn, so none starves however many
// servers another has queued. It returns the release function, to be called once when the
// evacuation ends, or ctx's error if ctx ends first.
func (s *Slots) Acquire(ctx context.Context, host string, ha bool) (release func(), err error) {
	if s == nil || s.limit <= 0 {
		return func() {}, nil
	}
	s.mu.Lock()
	w := &waiter{sig: clock.NewSignal(s.clk)}
	q := s.queues[host]
	if q == nil {
		q = &hostQueue{}
		s.queues[host] = q
		s.ring = append(s.ring, host)
	}
	if ha {
		q.ha = append(q.ha, w)
	} else {
		q.other = append(q.other, w)
	}
	s.grantLocked()
	s.mu.Unlock()
	err = w.sig.Wait(ctx)
	if err == nil {
		return s.releaser(host), nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if w.granted {
		s.releaseLocked(host)
	} else {
		s.removeLocked(host, w)
	}
	return nil, err
}

func (s *Slots) releaser(host string) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.releaseLocked(host)
			s.mu.Unlock()
		})
	}
}

// releaseLocked gives back a slot of host and hands out the free ones.
func (s *Slots) releaseLocked(host string) {
	s.n--
	if s.held[host]--; s.held[host] <= 0 {
		delete(s.held, host)
	}
	s.grantLocked()
}

// grantLocked hands free slots to waiters: each to the waiting host that
// holds the fewest, the first such from the one due in turn.
func (s *Slots) grantLocked() {
	for s.n < s.limit && len(s.ring) > 0 {
		if s.next >= len(s.ring) {
			s.next = 0
		}
		for k, due := 1, s.next; k < len(s.ring); k++ {
			if i := (due + k) % len(s.ring); s.held[s.ring[i]] < s.held[s.ring[s.next]] {
				s.next = i
			}
		}
		host := s.ring[s.next]
		q := s.queues[host]
		var w *waiter
		if len(q.ha) > 0 {
			w, q.ha = q.ha[0], q.ha[1:]
		} else {
			w, q.other = q.other[0], q.other[1:]
		}
		w.granted = true
		w.sig.Fire()
		s.n++
		s.held[host]++
		if len(q.ha) == 0 && len(q.other) == 0 {
			s.dropLocked(s.next)
		} else {
			s.next++
		}
	}
}

// dropLocked removes the host at index i of the ring; the host after it is
// then served next.
func (s *Slots) dropLocked(i int) {
	delete(s.queues, s.ring[i])
	s.ring = append(s.ring[:i], s.ring[i+1:]...)
	if s.next > i {
		s.next--
	}
}

func (s *Slots) removeLocked(host string, w *waiter) {
	q := s.queues[host]
	if q == nil {
		return
	}
	q.ha = without(q.ha, w)
	q.other = without(q.other, w)
	if len(q.ha) == 0 && len(q.other) == 0 {
		for i, h := range s.ring {
			if h == host {
				s.dropLocked(i)
				break
			}
		}
	}
}

func without(ws []*waiter, w *waiter) []*waiter {
	for i, x := range ws {
		if x == w {
			return append(ws[:i], ws[i+1:]...)
		}
	}
	return ws
}

// InFlight reports the slots granted and not released.
func (s *Slots) InFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}
