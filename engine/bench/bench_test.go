package bench_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/builtin"
	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine/bench"
)

func TestRunMeasuresAHostRecoveryInVirtualTime(t *testing.T) {
	c := bench.Case{Servers: 10, Threads: 4, API: 20 * time.Millisecond, Evacuate: 2 * time.Second, ServiceDownTime: 60 * time.Second}
	if c.Ideal() != 66*time.Second {
		t.Fatalf("ideal %s, want 60s + 3 rounds of 2s", c.Ideal())
	}
	r, err := bench.Run(context.Background(), conf.Defaults(), builtin.Register, c)
	if err != nil {
		t.Fatal(err)
	}
	if r.ClockName() != "virtual" || r.Ratio() < 1 || r.Ratio() > 1.2 {
		t.Fatalf("ttr %s on the %s clock, ratio %.3f", r.TimeToRecovery, r.ClockName(), r.Ratio())
	}
	// Each server: a read, lock, evacuate, polls, unlock; and the host's calls.
	if r.Requests < 5*c.Servers || r.RequestsPerServer() != float64(r.Requests)/10 {
		t.Fatalf("%d requests", r.Requests)
	}
	again, err := bench.Run(context.Background(), conf.Defaults(), builtin.Register, c)
	if err != nil {
		t.Fatal(err)
	}
	if again.TimeToRecovery != r.TimeToRecovery || again.Requests != r.Requests {
		t.Fatalf("second run %s, %d requests; first %s, %d", again.TimeToRecovery, again.Requests, r.TimeToRecovery, r.Requests)
	}
}

func TestRunOnTheWallClock(t *testing.T) {
	c := bench.Case{Servers: 4, Threads: 4, Evacuate: 10 * time.Millisecond, RealTime: true}
	r, err := bench.Run(context.Background(), conf.Defaults(), builtin.Register, c)
	if err != nil {
		t.Fatal(err)
	}
	if r.ClockName() != "wall" || r.TimeToRecovery < c.Ideal() {
		t.Fatalf("ttr %s on the %s clock, ideal %s", r.TimeToRecovery, r.ClockName(), c.Ideal())
	}
}

func TestRunRejectsBadCases(t *testing.T) {
	for _, c := range []bench.Case{{Servers: 0, Threads: 1}, {Servers: 1, Threads: 0},
		{Servers: 1, Threads: 1, ServiceDownTime: 1500 * time.Millisecond}} {
		if _, err := bench.Run(context.Background(), conf.Defaults(), builtin.Register, c); err == nil || !strings.HasPrefix(err.Error(), "bench: ") {
			t.Errorf("%+v: err %v", c, err)
		}
	}
}
