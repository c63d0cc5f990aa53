package clock

import (
	"context"
	"testing"
	"time"
)

// A participant waiting on a signal lets the virtual time move: the one
// that fires it after a sleep does so at that virtual time, and the woken
// goes on from there.
func TestSignalOnSimIsAWaitOnTheClock(t *testing.T) {
	start := time.Unix(0, 0).UTC()
	s := NewSim(start)
	ctx := context.Background()
	sigs := make([]*Signal, 3)
	woke := make([]time.Time, 3)
	g := NewGroup(s, 10)
	for i := range sigs {
		sigs[i] = NewSignal(s)
		if err := g.Go(ctx, func() {
			if err := sigs[i].Wait(ctx); err != nil {
				t.Error(err)
			}
			woke[i] = s.Now()
			s.Sleep(ctx, 2*time.Second)
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Go(ctx, func() {
		for _, sg := range sigs {
			s.Sleep(ctx, time.Second)
			sg.Fire()
		}
	}); err != nil {
		t.Fatal(err)
	}
	g.Wait()
	for i, w := range woke {
		if want := start.Add(time.Duration(i+1) * time.Second); !w.Equal(want) {
			t.Errorf("waiter %d woke at %s, want %s", i, w.Sub(start), want.Sub(start))
		}
	}
	if got := s.Now().Sub(start); got != 5*time.Second {
		t.Errorf("the run ended at %s, want 5s", got)
	}
}

// A signal fired before Wait does not block; a Wait whose context ends
// returns the context's error, on a Sim and on the real clock.
func TestSignalFiredEarlyAndCancelled(t *testing.T) {
	for name, clk := range map[string]Clock{"sim": NewSim(time.Unix(0, 0)), "real": Real{}} {
		sg := NewSignal(clk)
		sg.Fire()
		sg.Fire()
		if err := sg.Wait(context.Background()); err != nil {
			t.Errorf("%s: fired signal: %v", name, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() { time.Sleep(10 * time.Millisecond); cancel() }()
		if err := NewSignal(clk).Wait(ctx); err != context.Canceled {
			t.Errorf("%s: cancelled wait: %v", name, err)
		}
	}
}
