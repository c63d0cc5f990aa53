package budget

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine/clock"
)

// queued reports how many waiters s holds, for tests that must know a
// goroutine is waiting before they go on.
func (s *Slots) queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, q := range s.queues {
		n += len(q.ha) + len(q.other)
	}
	return n
}

func waitQueued(t *testing.T, s *Slots, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.queued() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d waiters queued, want %d", s.queued(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSlotsRoundRobinHAFirst queues servers of three hosts behind one slot
// and checks the order they are granted: the hosts in turn, and within a
// host the HA-enabled server before the others queued ahead of it.
func TestSlotsRoundRobinHAFirst(t *testing.T) {
	s := NewSlots(clock.Real{}, 1)
	ctx := context.Background()
	hold, err := s.Acquire(ctx, "x", false)
	if err != nil {
		t.Fatal(err)
	}
	type grant struct {
		label   string
		release func()
	}
	granted := make(chan grant)
	queue := []struct {
		host, label string
		ha          bool
	}{
		{"a", "a1", false}, {"b", "b1", false}, {"a", "a2", false},
		{"b", "b-ha", true}, {"c", "c1", false}, {"a", "a3", false},
	}
	for i, w := range queue {
		go func() {
			rel, err := s.Acquire(ctx, w.host, w.ha)
			if err != nil {
				t.Error(err)
				return
			}
			granted <- grant{w.label, rel}
		}()
		waitQueued(t, s, i+1) // arrival order is the test's, not the scheduler's
	}
	hold()
	var got []string
	for range queue {
		g := <-granted
		if n := s.InFlight(); n != 1 {
			t.Fatalf("%d in flight, want 1", n)
		}
		got = append(got, g.label)
		g.release()
	}
	want := []string{"a1", "b-ha", "c1", "a2", "b1", "a3"}
	if !slices.Equal(got, want) {
		t.Fatalf("granted %v, want %v", got, want)
	}
	if n := s.InFlight(); n != 0 {
		t.Fatalf("%d in flight after all released, want 0", n)
	}
}

// TestSlotsCancelledWaiterLeaves checks that a waiter whose context ends
// gives up its place and does not hold a slot.
func TestSlotsCancelledWaiterLeaves(t *testing.T) {
	s := NewSlots(clock.Real{}, 1)
	hold, _ := s.Acquire(context.Background(), "a", false)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := s.Acquire(ctx, "b", true)
		done <- err
	}()
	waitQueued(t, s, 1)
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("Acquire = %v, want context.Canceled", err)
	}
	if s.queued() != 0 {
		t.Fatalf("%d waiters left, want 0", s.queued())
	}
	hold()
	hold() // a second release is a no-op
	rel, err := s.Acquire(context.Background(), "c", false)
	if err != nil || s.InFlight() != 1 {
		t.Fatalf("Acquire after cancel: %v, %d in flight", err, s.InFlight())
	}
	rel()
}

// TestSlotsBound runs ten hosts of a hundred evacuations each through three
// slots and checks that never more than three run and every one runs.
func TestSlotsBound(t *testing.T) {
	const limit = 3
	s := NewSlots(clock.Real{}, limit)
	var cur, peak, total atomic.Int64
	var wg sync.WaitGroup
	for h := range 10 {
		for i := range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rel, err := s.Acquire(context.Background(), fmt.Sprint("host", h), i%7 == 0)
				if err != nil {
					t.Error(err)
					return
				}
				n := cur.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				time.Sleep(50 * time.Microsecond)
				cur.Add(-1)
				total.Add(1)
				rel()
			}()
		}
	}
	wg.Wait()
	if peak.Load() > limit || peak.Load() < 1 {
		t.Fatalf("peak %d in flight, want 1..%d", peak.Load(), limit)
	}
	if total.Load() != 1000 {
		t.Fatalf("%d evacuations ran, want 1000", total.Load())
	}
}

func TestSlotsUnlimited(t *testing.T) {
	var nilSlots *Slots
	for _, s := range []*Slots{nilSlots, NewSlots(clock.Real{}, 0)} {
		rel, err := s.Acquire(context.Background(), "a", false)
		if err != nil {
			t.Fatal(err)
		}
		rel()
	}
}

// TestSlotsLateHostGetsItsShareFirst fills every slot with one host, then
// queues a second: the slots freed next go to the second until both hold as
// many, rather than in turn (which would leave the first host three of four
// after two releases).
func TestSlotsLateHostGetsItsShareFirst(t *testing.T) {
	s := NewSlots(clock.Real{}, 4)
	ctx := context.Background()
	var holdA []func()
	for range 4 {
		rel, err := s.Acquire(ctx, "a", false)
		if err != nil {
			t.Fatal(err)
		}
		holdA = append(holdA, rel)
	}
	granted := make(chan string, 20)
	for i, host := range []string{"a", "a", "b", "b", "a", "b"} {
		go func() {
			rel, err := s.Acquire(ctx, host, false)
			if err != nil {
				t.Error(err)
				return
			}
			granted <- host
			_ = rel // held to the end of the test
		}()
		waitQueued(t, s, i+1)
	}
	var got []string
	for _, rel := range holdA[:2] {
		rel()
		got = append(got, <-granted)
	}
	if !slices.Equal(got, []string{"b", "b"}) {
		t.Fatalf("the two slots a freed went to %v, want both to b, which held none", got)
	}
	holdA[2]()
	if g := <-granted; g != "a" {
		t.Fatalf("with a holding 1 and b 2, a freed slot went to %s, want a, which holds fewer", g)
	}
}
