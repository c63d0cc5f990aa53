package budget

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
)

// stampCloud records, on clk, when each GetServer reached it.
type stampCloud struct {
	compute.Cloud
	clk   clock.Clock
	calls chan time.Time
}

func (c *stampCloud) GetServer(ctx context.Context, id string) (compute.Server, error) {
	c.calls <- c.clk.Now()
	return compute.Server{ID: id}, nil
}

// TestLimitKeepsBudget makes 25 calls through a budget of 10 a second on a
// fake clock and checks that no second holds more than the budget (plus the
// burst of one) and that they are spread over the 2.4 s the budget needs.
func TestLimitKeepsBudget(t *testing.T) {
	start := time.Unix(1e9, 0)
	clk := clock.NewFake(start)
	inner := &stampCloud{clk: clk, calls: make(chan time.Time, 100)}
	cloud := Limit(inner, clk, 10)
	// Fake's Sleep advances the virtual clock, so each call is stamped at
	// the instant its token fell due.
	const n = 25
	for range n {
		if _, err := cloud.GetServer(context.Background(), "s"); err != nil {
			t.Fatal(err)
		}
	}
	close(inner.calls)
	var at []time.Time
	for ts := range inner.calls {
		at = append(at, ts)
	}
	for i := range at {
		j := i
		for j < len(at) && at[j].Sub(at[i]) < time.Second {
			j++
		}
		if j-i > 11 {
			t.Fatalf("%d calls within a second from %v, budget 10", j-i, at[i].Sub(start))
		}
	}
	if span := at[n-1].Sub(at[0]); span < 2400*time.Millisecond {
		t.Fatalf("25 calls in %v, want at least 2.4s at 10 per second", span)
	}
}

// TestLimitCancelled checks that a call whose deadline comes before its
// token gives up and never reaches the cloud.
func TestLimitCancelled(t *testing.T) {
	clk := clock.NewFake(time.Unix(1e9, 0))
	inner := &stampCloud{clk: clk, calls: make(chan time.Time, 10)}
	cloud := Limit(inner, clk, 1)
	if _, err := cloud.GetServer(context.Background(), "s"); err != nil {
		t.Fatal(err)
	}
	// The next token is due in a second; the call's deadline is sooner.
	ctx := clock.WithDeadline(context.Background(), clk.Now().Add(500*time.Millisecond))
	if _, err := cloud.GetServer(ctx, "s"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("GetServer = %v, want context.DeadlineExceeded", err)
	}
	if len(inner.calls) != 1 {
		t.Fatalf("%d calls reached the cloud, want 1", len(inner.calls))
	}
}

func TestLimitUnset(t *testing.T) {
	inner := &stampCloud{}
	if Limit(inner, clock.NewFake(time.Unix(0, 0)), 0) != compute.Cloud(inner) {
		t.Fatal("no budget must leave the cloud unchanged")
	}
}
