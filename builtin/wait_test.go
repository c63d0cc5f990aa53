package builtin

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
)

var epoch = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func TestPollChecksAtOnceThenEveryInterval(t *testing.T) {
	clk := clock.NewFake(epoch)
	var at []time.Duration
	err := poll(context.Background(), clk, time.Second, 90*time.Second, func(context.Context) (bool, error) {
		at = append(at, clk.Now().Sub(epoch))
		return len(at) == 8, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Early checks at 0.1, 0.2, 0.4 and 0.8 s, then every interval.
	ms := time.Millisecond
	want := []time.Duration{0, 100 * ms, 200 * ms, 400 * ms, 800 * ms, time.Second, 2 * time.Second, 3 * time.Second}
	if !slices.Equal(at, want) {
		t.Fatalf("checks at %v, want %v", at, want)
	}
}

func TestPollTimesOutWhenTheTimeoutIsReached(t *testing.T) {
	clk := clock.NewFake(epoch)
	n := 0
	err := poll(context.Background(), clk, time.Second, 90*time.Second, func(context.Context) (bool, error) {
		n++
		return false, nil
	})
	if !errors.Is(err, errTimeout) {
		t.Fatalf("err = %v, want errTimeout", err)
	}
	// Checks at 0..90 s and the early ones at 0.1, 0.2, 0.4 and 0.8 s; the
	// one at 90 s finds the timeout reached.
	if n != 91+4 || clk.Now().Sub(epoch) != 90*time.Second {
		t.Fatalf("%d checks, %s elapsed; want 95 checks, 90s", n, clk.Now().Sub(epoch))
	}
}

func TestPollSubtractsTheTimeTheCheckTook(t *testing.T) {
	clk := clock.NewFake(epoch)
	var at []time.Duration
	_ = poll(context.Background(), clk, 2*time.Second, 5*time.Second, func(context.Context) (bool, error) {
		at = append(at, clk.Now().Sub(epoch))
		clk.Advance(1500 * time.Millisecond) // a slow API call
		return false, nil
	})
	// The check at 0 ends at 1.5 s, past the early checks at 0.1, 0.2, 0.4
	// and 0.8 s: the next is the early one at 1.6 s. It ends at 3.1 s, past
	// the one due at 2 s, so the next is 2 s after that, at 4 s; it ends at
	// 5.5 s, past the timeout.
	want := []time.Duration{0, 1600 * time.Millisecond, 4 * time.Second}
	if !slices.Equal(at, want) {
		t.Fatalf("checks at %v, want %v", at, want)
	}
}

func TestPollStopsOnCheckErrorAndContext(t *testing.T) {
	clk := clock.NewFake(epoch)
	boom := errors.New("boom")
	if err := poll(context.Background(), clk, time.Second, time.Minute, func(context.Context) (bool, error) { return false, boom }); err != boom {
		t.Fatalf("err = %v, want boom", err)
	}
	ctx := clock.WithDeadline(context.Background(), epoch.Add(10*time.Second))
	err := poll(ctx, clk, time.Second, time.Minute, func(context.Context) (bool, error) { return false, nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the clock deadline", err)
	}
	if got := clk.Now().Sub(epoch); got != 10*time.Second {
		t.Fatalf("stopped after %s, want 10s", got)
	}
}

func TestTruthyIsOsloBoolFromString(t *testing.T) {
	for v, want := range map[string]bool{
		"1": true, "t": true, "T": true, "true": true, "True": true, "TRUE": true, "on": true, "On": true,
		"y": true, "Y": true, "yes": true, "YES": true, " True ": true, "\tyes\n": true,
		"0": false, "false": false, "False": false, "": false, "no": false, "off": false, "2": false,
		"truthy": false, "enabled": false, "ye": false,
	} {
		if got := truthy(map[string]string{"HA_Enabled": v}, "HA_Enabled"); got != want {
			t.Errorf("truthy(%q) = %v, want %v", v, got, want)
		}
	}
	if truthy(map[string]string{"ha_enabled": "True"}, "HA_Enabled") {
		t.Error("the metadata key is case-sensitive, as in Nova")
	}
	if truthy(nil, "HA_Enabled") {
		t.Error("missing metadata is not HA-enabled")
	}
}

func TestOptionsFloors(t *testing.T) {
	o := newOptions(&conf.Config{})
	if o.verifyInterval != time.Second || o.threads != 1 {
		t.Fatalf("verify_interval %s, threads %d; want 1s and 1", o.verifyInterval, o.threads)
	}
	o = newOptions(&conf.Config{Engine: conf.Engine{VerifyInterval: 3 * time.Second, HostFailureRecoveryThreads: 7}})
	if o.verifyInterval != 3*time.Second || o.threads != 7 {
		t.Fatalf("verify_interval %s, threads %d; want 3s and 7", o.verifyInterval, o.threads)
	}
}
