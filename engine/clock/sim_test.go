package clock

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

var _ Timers = (*Sim)(nil)

var simStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Parallel sleeps overlap: N goroutines sleeping 2 s end 2 s later, not 2N.
func TestSimParallelSleepsOverlap(t *testing.T) {
	for _, n := range []int{1, 10, 100} {
		s := NewSim(simStart)
		g := NewGroup(s, n)
		ends := make([]time.Duration, n)
		for i := range n {
			if err := g.Go(context.Background(), func() {
				if err := s.Sleep(context.Background(), 2*time.Second); err != nil {
					t.Error(err)
				}
				ends[i] = s.Now().Sub(simStart)
			}); err != nil {
				t.Fatal(err)
			}
		}
		g.Wait()
		if got := s.Now().Sub(simStart); got != 2*time.Second {
			t.Fatalf("N=%d: the run took %s of virtual time, want 2s", n, got)
		}
		for i, e := range ends {
			if e != 2*time.Second {
				t.Fatalf("N=%d: sleeper %d ended at %s", n, i, e)
			}
		}
	}
}

// Sim.Go without a group: the caller waits by sleeping.
func TestSimGoStartsAParticipant(t *testing.T) {
	s := NewSim(simStart)
	var mu sync.Mutex
	var order []string
	note := func(what string) {
		mu.Lock()
		order = append(order, fmt.Sprintf("%s@%s", what, s.Now().Sub(simStart)))
		mu.Unlock()
	}
	for i := range 3 {
		s.Go(func() {
			note(fmt.Sprintf("start%d", i))
			_ = s.Sleep(context.Background(), time.Duration(3-i)*time.Second)
			note(fmt.Sprintf("end%d", i))
		})
	}
	note("main")
	if err := s.Sleep(context.Background(), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	note("main")
	want := []string{"main@0s", "start0@0s", "start1@0s", "start2@0s", "end2@1s", "end1@2s", "end0@3s", "main@10s"}
	if !slices.Equal(order, want) {
		t.Fatalf("order %v\nwant  %v", order, want)
	}
}

// At most limit run at once: 10 jobs of 2 s, 3 at a time, take 4 rounds.
func TestSimGroupBoundsParallelism(t *testing.T) {
	s := NewSim(simStart)
	g := NewGroup(s, 3)
	var mu sync.Mutex
	active, peak := 0, 0
	for range 10 {
		if err := g.Go(context.Background(), func() {
			mu.Lock()
			active++
			peak = max(peak, active)
			mu.Unlock()
			_ = s.Sleep(context.Background(), 2*time.Second)
			mu.Lock()
			active--
			mu.Unlock()
		}); err != nil {
			t.Fatal(err)
		}
	}
	g.Wait()
	if got := s.Now().Sub(simStart); got != 8*time.Second || peak != 3 {
		t.Fatalf("took %s with %d at once, want 8s with 3", got, peak)
	}
}

// The same work gives the same timeline on every run, wake-ups due at the
// same instant included (they run in the order they were asked for).
func TestSimTimelineIsDeterministic(t *testing.T) {
	timeline := func() []string {
		s := NewSim(simStart)
		g := NewGroup(s, 8)
		var mu sync.Mutex
		var out []string
		for i := range 40 {
			if err := g.Go(context.Background(), func() {
				for step := range 3 {
					// Many equal durations: ties at every instant.
					d := time.Duration(1+(i*7+step)%3) * 100 * time.Millisecond
					_ = s.Sleep(context.Background(), d)
					mu.Lock()
					out = append(out, fmt.Sprintf("%d.%d@%s", i, step, s.Now().Sub(simStart)))
					mu.Unlock()
				}
			}); err != nil {
				t.Fatal(err)
			}
		}
		g.Wait()
		return out
	}
	first := timeline()
	if len(first) != 120 {
		t.Fatalf("%d events", len(first))
	}
	for run := range 20 {
		if got := timeline(); !slices.Equal(got, first) {
			t.Fatalf("run %d differs:\n%v\nfirst:\n%v", run, got, first)
		}
	}
}

func TestSimSleepStopsAtTheDeadline(t *testing.T) {
	s := NewSim(simStart)
	ctx := WithDeadline(context.Background(), simStart.Add(30*time.Second))
	if err := s.Sleep(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := s.Sleep(ctx, time.Minute); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	if got := s.Now().Sub(simStart); got != 30*time.Second {
		t.Fatalf("clock at %s, want the deadline", got)
	}
	if err := s.Sleep(ctx, time.Second); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("past the deadline: %v", err)
	}
	// A group does not start work past the clock deadline.
	g := NewGroup(s, 1)
	if err := g.Go(ctx, func() { t.Error("ran past the deadline") }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("group: %v", err)
	}
	g.Wait()
}

// A participant that cancels another's context wakes it at the instant of
// the cancel, not at the end of its sleep.
func TestSimCancelWakesTheSleeperAtOnce(t *testing.T) {
	s := NewSim(simStart)
	g := NewGroup(s, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var err error
	var woke time.Duration
	_ = g.Go(context.Background(), func() {
		err = s.Sleep(ctx, time.Hour)
		woke = s.Now().Sub(simStart)
	})
	_ = g.Go(context.Background(), func() {
		_ = s.Sleep(context.Background(), time.Second)
		cancel()
		_ = s.Sleep(context.Background(), time.Minute)
	})
	g.Wait()
	if !errors.Is(err, context.Canceled) || woke != time.Second {
		t.Fatalf("sleeper woke at %s with %v, want at 1s, cancelled", woke, err)
	}
	if got := s.Now().Sub(simStart); got != time.Minute+time.Second {
		t.Fatalf("run took %s", got)
	}
	if err := s.Sleep(ctx, time.Second); !errors.Is(err, context.Canceled) {
		t.Fatalf("sleep on an ended context: %v", err)
	}
}

// Waiting for a slot ends with the context; the slot goes to the next.
func TestSimGroupSlotWaitEndsWithTheContext(t *testing.T) {
	s := NewSim(simStart)
	g := NewGroup(s, 1)
	ctx, cancel := context.WithCancel(context.Background())
	_ = g.Go(context.Background(), func() {
		_ = s.Sleep(context.Background(), time.Second)
		cancel()
		_ = s.Sleep(context.Background(), time.Second)
	})
	err := g.Go(ctx, func() { t.Error("started after its context ended") })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	ran := false
	if err := g.Go(context.Background(), func() { ran = true }); err != nil {
		t.Fatal(err)
	}
	g.Wait()
	if !ran || s.Now().Sub(simStart) != 2*time.Second {
		t.Fatalf("ran %v at %s", ran, s.Now().Sub(simStart))
	}
}

// Timers fire as the time passes them; they do not move it on their own.
func TestSimTimers(t *testing.T) {
	s := NewSim(simStart)
	tm := s.NewTimer(time.Minute)
	tk := s.NewTicker(20 * time.Second)
	if _, ok := fired(tm.C()); ok {
		t.Fatal("fired early")
	}
	if err := s.Sleep(context.Background(), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if at, ok := fired(tk.C()); !ok || !at.Equal(simStart.Add(20*time.Second)) {
		t.Fatalf("tick %v at %s", ok, at)
	}
	if _, ok := fired(tm.C()); ok {
		t.Fatal("timer fired at 30s")
	}
	if err := s.Sleep(context.Background(), time.Minute); err != nil {
		t.Fatal(err)
	}
	if at, ok := fired(tm.C()); !ok || !at.Equal(simStart.Add(time.Minute)) {
		t.Fatalf("timer %v at %s", ok, at)
	}
	if tm.Stop() {
		t.Fatal("a fired timer was still pending")
	}
	tk.Stop()
	if _, ok := fired(s.NewTimer(0).C()); !ok {
		t.Fatal("a zero timer must fire at once")
	}
	stopped := s.NewTimer(time.Second)
	if !stopped.Stop() {
		t.Fatal("stop of a pending timer")
	}
	if got := s.Now().Sub(simStart); got != 90*time.Second {
		t.Fatalf("timers moved the clock to %s", got)
	}
}

// On any other clock a Group is a bounded WaitGroup.
func TestGroupOnTheRealClock(t *testing.T) {
	g := NewGroup(Real{}, 2)
	var mu sync.Mutex
	active, peak, done := 0, 0, 0
	for range 6 {
		if err := g.Go(context.Background(), func() {
			mu.Lock()
			active++
			peak = max(peak, active)
			mu.Unlock()
			_ = Real{}.Sleep(context.Background(), time.Millisecond)
			mu.Lock()
			active--
			done++
			mu.Unlock()
		}); err != nil {
			t.Fatal(err)
		}
	}
	g.Wait()
	if done != 6 || peak > 2 {
		t.Fatalf("done %d, peak %d", done, peak)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.Go(ctx, func() {}); err == nil {
		t.Fatal("started with an ended context")
	}
}

// Each runs every index once, at most limit at a time, on at most limit
// goroutines (the caller's among them), and calls begin in index order, on
// the real clock, a Fake one and a Sim. On the real clock the calls sleep,
// which grows the pool to its limit; on a Fake one a sleep does not wait,
// so every call runs on the caller's goroutine.
func TestEachRunsEveryIndexInOrder(t *testing.T) {
	clocks := map[string]func() Clock{
		"real": func() Clock { return Real{} },
		"fake": func() Clock { return NewFake(simStart) },
		"sim":  func() Clock { return NewSim(simStart) },
	}
	for name, newClock := range clocks {
		t.Run(name, func(t *testing.T) {
			clk := newClock()
			before := runtime.NumGoroutine()
			var mu sync.Mutex
			var begun []int
			ran := make([]int, 50)
			active, peak, peakG := 0, 0, 0
			Each(context.Background(), clk, 3, len(ran), func(i int) {
				mu.Lock()
				begun = append(begun, i)
				mu.Unlock()
			}, func(ctx context.Context, i int) {
				mu.Lock()
				ran[i]++
				active++
				peak = max(peak, active)
				peakG = max(peakG, runtime.NumGoroutine()-before)
				mu.Unlock()
				_ = clk.Sleep(ctx, time.Millisecond)
				mu.Lock()
				active--
				mu.Unlock()
			})
			if !slices.IsSorted(begun) || len(begun) != len(ran) {
				t.Fatalf("begun %v, want every index in order", begun)
			}
			for i, n := range ran {
				if n != 1 {
					t.Fatalf("index %d ran %d times", i, n)
				}
			}
			if peak > 3 {
				t.Fatalf("%d calls at once, limit 3", peak)
			}
			switch clk.(type) {
			case Real:
				if peak < 2 || peakG > 2 {
					t.Fatalf("%d calls at once on %d goroutines besides the caller's, want 2-3 on at most 2", peak, peakG)
				}
			case *Fake:
				if peak != 1 || peakG != 0 {
					t.Fatalf("%d calls at once on %d goroutines besides the caller's, want one on the caller's", peak, peakG)
				}
			}
		})
	}
}

// A call that waits for a Signal lets another goroutine take the next
// index: three calls that each wait until three are running all finish.
// Calls that never wait stay on the caller's goroutine.
func TestEachGrowsWhileCallsWait(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var mu sync.Mutex
	running := 0
	all := NewSignal(Real{})
	Each(ctx, Real{}, 3, 3, nil, func(ctx context.Context, i int) {
		mu.Lock()
		if running++; running == 3 {
			all.Fire()
		}
		mu.Unlock()
		if err := all.Wait(ctx); err != nil {
			t.Errorf("call %d: %v (the pool did not grow)", i, err)
		}
	})
	before, extra := runtime.NumGoroutine(), 0
	Each(ctx, Real{}, 8, 20, nil, func(ctx context.Context, i int) {
		extra = max(extra, runtime.NumGoroutine()-before) // one goroutine: no race
	})
	if extra != 0 {
		t.Fatalf("calls that never wait ran on %d more goroutines", extra)
	}
}

// An index whose turn comes once the clock deadline has passed is not run;
// the first indices, given out at once, all run.
func TestEachStopsAtTheDeadline(t *testing.T) {
	f := NewFake(simStart)
	ctx := WithDeadline(context.Background(), simStart.Add(10*time.Second))
	var mu sync.Mutex
	var ran []int
	Each(ctx, f, 2, 10, nil, func(ctx context.Context, i int) {
		mu.Lock()
		ran = append(ran, i)
		mu.Unlock()
		_ = f.Sleep(ctx, 4*time.Second)
	})
	slices.Sort(ran)
	// Indices 0 and 1 start at 0 s; each call moves the Fake clock 4 s, so
	// at most two more turns (at 4 s and 8 s) come before the deadline.
	if len(ran) < 2 || len(ran) > 4 || ran[0] != 0 || ran[1] != 1 {
		t.Fatalf("ran %v", ran)
	}
	ran = nil
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	Each(cancelled, f, 2, 10, nil, func(_ context.Context, i int) { ran = append(ran, i) })
	if len(ran) != 0 {
		t.Fatalf("ran %v with an ended context", ran)
	}
}
