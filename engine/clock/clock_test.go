package clock

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestFakeSleepAdvancesAtOnce(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFake(start)
	began := time.Now()
	if err := f.Sleep(context.Background(), time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := f.Now().Sub(start); got != time.Hour {
		t.Fatalf("advanced %s", got)
	}
	if time.Since(began) > time.Second {
		t.Fatal("a fake sleep must not wait")
	}
	f.Advance(time.Minute)
	if got := f.Now().Sub(start); got != time.Hour+time.Minute {
		t.Fatalf("advance: %s", got)
	}
}

func TestFakeSleepStopsAtTheDeadline(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFake(start)
	ctx := WithDeadline(context.Background(), start.Add(30*time.Second))
	if err := f.Sleep(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	err := f.Sleep(ctx, time.Minute)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	if got := f.Now().Sub(start); got != 30*time.Second {
		t.Fatalf("clock at %s, want the deadline", got)
	}
	if dl, ok := Deadline(ctx); !ok || !dl.Equal(start.Add(30*time.Second)) {
		t.Fatalf("deadline %v %v", dl, ok)
	}
}

func TestWithoutDeadlineHidesTheClockDeadline(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFake(start)
	ctx := WithoutDeadline(WithDeadline(context.Background(), start.Add(time.Second)))
	if dl, ok := Deadline(ctx); ok {
		t.Fatalf("deadline %v still seen", dl)
	}
	if err := f.Sleep(ctx, time.Minute); err != nil {
		t.Fatalf("sleep past the hidden deadline: %v", err)
	}
	// A deadline recorded again counts.
	ctx = WithDeadline(ctx, f.Now().Add(time.Second))
	if err := f.Sleep(ctx, time.Minute); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the new deadline", err)
	}
}

func TestSleepHonoursCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := NewFake(time.Unix(0, 0)).Sleep(ctx, time.Second); !errors.Is(err, context.Canceled) {
		t.Fatalf("fake: %v", err)
	}
	if err := (Real{}).Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("real: %v", err)
	}
	if err := (Real{}).Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatalf("real short sleep: %v", err)
	}
}

var (
	_ Timers = Real{}
	_ Timers = (*Fake)(nil)
)

func fired(c <-chan time.Time) (time.Time, bool) {
	select {
	case t := <-c:
		return t, true
	default:
		return time.Time{}, false
	}
}

// A fake timer fires once, when Advance or a Sleep reaches it, and not
// after Stop.
func TestFakeTimer(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFake(start)
	tm := f.NewTimer(time.Minute)
	if f.Pending() != 1 {
		t.Fatalf("pending %d", f.Pending())
	}
	f.Advance(59 * time.Second)
	if _, ok := fired(tm.C()); ok {
		t.Fatal("fired early")
	}
	if err := f.Sleep(context.Background(), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if at, ok := fired(tm.C()); !ok || !at.Equal(start.Add(time.Minute)) {
		t.Fatalf("fired %v at %s, want at the minute", ok, at)
	}
	if f.Pending() != 0 || tm.Stop() {
		t.Fatal("a fired timer is still pending")
	}
	f.Advance(time.Hour)
	if _, ok := fired(tm.C()); ok {
		t.Fatal("fired twice")
	}

	stopped := f.NewTimer(time.Second)
	if !stopped.Stop() || f.Pending() != 0 {
		t.Fatal("stop of a pending timer")
	}
	f.Advance(time.Hour)
	if _, ok := fired(stopped.C()); ok {
		t.Fatal("a stopped timer fired")
	}
	if _, ok := fired(f.NewTimer(0).C()); !ok {
		t.Fatal("a zero timer must fire at once")
	}

	// A sleep cut short by its deadline fires what the deadline reaches.
	atDeadline := f.NewTimer(time.Second)
	ctx := WithDeadline(context.Background(), f.Now().Add(time.Second))
	if err := f.Sleep(ctx, time.Hour); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	if _, ok := fired(atDeadline.C()); !ok {
		t.Fatal("the timer at the deadline did not fire")
	}
}

// A fake ticker fires every period; a receiver that lags gets one tick, as
// with time.Ticker, and the next tick keeps to the period.
func TestFakeTicker(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFake(start)
	tk := f.NewTicker(10 * time.Second)
	defer tk.Stop()
	for i := 1; i <= 3; i++ {
		f.Advance(10 * time.Second)
		if at, ok := fired(tk.C()); !ok || !at.Equal(start.Add(time.Duration(i)*10*time.Second)) {
			t.Fatalf("tick %d: %v at %s", i, ok, at)
		}
	}
	f.Advance(35 * time.Second) // 65 s: three periods passed
	if _, ok := fired(tk.C()); !ok {
		t.Fatal("no tick after a lag")
	}
	if _, ok := fired(tk.C()); ok {
		t.Fatal("a lagging receiver got more than one tick")
	}
	f.Advance(4 * time.Second) // 69 s
	if _, ok := fired(tk.C()); ok {
		t.Fatal("ticked before 70 s")
	}
	f.Advance(time.Second)
	if _, ok := fired(tk.C()); !ok {
		t.Fatal("no tick at 70 s")
	}
	tk.Stop()
	if f.Pending() != 0 {
		t.Fatal("a stopped ticker is pending")
	}
	f.Advance(time.Minute)
	if _, ok := fired(tk.C()); ok {
		t.Fatal("a stopped ticker ticked")
	}
	defer func() {
		if recover() == nil {
			t.Error("a zero ticker must panic, as time.NewTicker does")
		}
	}()
	f.NewTicker(0)
}

// BlockUntil returns once the code under test has set its timers.
func TestFakeBlockUntil(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	got := make(chan time.Time)
	go func() {
		tm := f.NewTimer(time.Second)
		tk := f.NewTicker(time.Hour)
		defer tk.Stop()
		got <- <-tm.C()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.BlockUntil(ctx, 2); err != nil {
		t.Fatal(err)
	}
	f.Advance(time.Second)
	if at := <-got; !at.Equal(time.Unix(1, 0)) {
		t.Fatalf("fired at %s", at)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancelShort()
	if err := f.BlockUntil(short, 5); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("BlockUntil past its context: %v", err)
	}
}

func TestRealTimers(t *testing.T) {
	var c Timers = Real{}
	tm := c.NewTimer(time.Millisecond)
	if at := <-tm.C(); at.IsZero() {
		t.Fatal("zero time")
	}
	if tm.Stop() {
		t.Fatal("a fired timer stopped")
	}
	tk := c.NewTicker(time.Millisecond)
	<-tk.C()
	<-tk.C()
	tk.Stop()
}
