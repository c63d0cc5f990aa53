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
