package recovery_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/recovery"
)

// Four hosts in a segment, three failing within the window: the third is
// held and nothing of it runs; releasing it lets it recover. The guard is
// off unless configured.
func TestStormGuardHoldsTheThirdOfFourHosts(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1000, 0)
	fail := func(uuid, host string) recovery.Notification {
		return recovery.Notification{UUID: uuid, Type: recovery.TypeComputeHost, Hostname: host,
			Payload: map[string]string{"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"}}
	}
	newSegment := func() *recovery.MemorySegment {
		seg := recovery.NewMemorySegment(recovery.MethodAuto)
		seg.Now = func() time.Time { return now }
		for _, h := range []string{"compute1", "compute2", "compute3", "compute4"} {
			seg.AddHost(h, false)
		}
		return seg
	}

	w := newWorld(t)
	w.mgr.Storm = conf.StormGuard{MaxFailedHostsPercent: 50, Window: 10 * time.Minute}
	seg := newSegment()
	for i, h := range []string{"compute1", "compute2"} {
		out := w.mgr.Recover(ctx, recovery.Job{Notification: fail("n-"+h, h)}, seg)
		if out.Status != engine.StatusFinished {
			t.Fatalf("host %d: %+v", i+1, out)
		}
		now = now.Add(time.Minute)
	}
	ranBefore := len(w.ran)
	third := fail("n-compute3", "compute3")
	out := w.mgr.Recover(ctx, recovery.Job{Notification: third}, seg)
	if out.Status != engine.StatusHeld || !strings.Contains(out.Message, "3 of the 4 hosts") ||
		!strings.Contains(out.Message, "/v1/notifications/n-compute3/release") || len(out.Runs) != 0 {
		t.Fatalf("third host: %+v", out)
	}
	if len(w.ran) != ranBefore || len(seg.Changes()) != 2 { // the two recovered hosts put on maintenance, nothing else
		t.Fatalf("a held host was touched: ran %v, changes %v", w.ran[ranBefore:], seg.Changes())
	}
	// Delivered again (the monitor repeats itself), it is held again.
	if out := w.mgr.Recover(ctx, recovery.Job{Notification: third}, seg); out.Status != engine.StatusHeld {
		t.Fatalf("third host again: %+v", out)
	}
	// An operator releases it: it recovers.
	out = w.mgr.Recover(ctx, recovery.Job{Notification: third, Released: true}, seg)
	if out.Status != engine.StatusFinished || len(w.ran) == ranBefore {
		t.Fatalf("released: %+v ran %v", out, w.ran[ranBefore:])
	}
	if got := seg.OnMaintenance(); strings.Join(got, ",") != "compute1,compute2,compute3" {
		t.Fatalf("on maintenance: %v", got)
	}
	// Once the first failures are out of the window, a new one is started.
	now = now.Add(10 * time.Minute)
	if out := w.mgr.Recover(ctx, recovery.Job{Notification: fail("n-compute4", "compute4")}, seg); out.Status != engine.StatusFinished {
		t.Fatalf("after the window: %+v", out)
	}

	// Off by default: Masakari's behaviour.
	w = newWorld(t)
	seg = newSegment()
	for _, h := range []string{"compute1", "compute2", "compute3", "compute4"} {
		if out := w.mgr.Recover(ctx, recovery.Job{Notification: fail("n-"+h, h)}, seg); out.Status != engine.StatusFinished {
			t.Fatalf("guard off, %s: %+v", h, out)
		}
	}
}

// Resumed and retried notifications started before; the guard leaves them
// alone, so recoveries under way go on.
func TestStormGuardLetsStartedRecoveriesGoOn(t *testing.T) {
	w := newWorld(t)
	w.mgr.Storm = conf.StormGuard{MaxFailedHostsPercent: 10, Window: time.Minute}
	seg := recovery.NewMemorySegment(recovery.MethodAuto)
	seg.AddHost("compute1", false)
	n := recovery.Notification{UUID: "n-1", Type: recovery.TypeComputeHost, Hostname: "compute1",
		Payload: map[string]string{"event": "STOPPED", "host_status": "NORMAL"}}
	if out := w.mgr.Recover(context.Background(), recovery.Job{Notification: n}, seg); out.Status != engine.StatusHeld {
		t.Fatalf("fresh: %+v", out)
	}
	for _, j := range []recovery.Job{{Notification: n, Retry: true}, {Notification: n, Resumed: true}} {
		if out := w.mgr.Recover(context.Background(), j, seg); out.Status != engine.StatusFinished {
			t.Fatalf("%+v: %+v", j, out)
		}
	}
	// A notification that is not a host failure is never held.
	started := n
	started.UUID, started.Payload = "n-2", map[string]string{"event": "STARTED", "host_status": "NORMAL"}
	if out := w.mgr.Recover(context.Background(), recovery.Job{Notification: started}, seg); out.Status != engine.StatusFinished {
		t.Fatalf("STARTED: %+v", out)
	}
}
