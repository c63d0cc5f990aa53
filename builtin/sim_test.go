package builtin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/builtin"
	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
)

// simBed is the simulated cloud of fx on the discrete-event clock, with n
// HA-enabled servers on compute1 instead of fx's, and the built-in tasks
// registered on it with host_failure_recovery_threads = threads.
type simBed struct {
	clk   *clock.Sim
	cloud *simulated.Cloud
	cfg   *conf.Config
	reg   *engine.Registry
}

func newSimBed(t *testing.T, fx simulated.Fixture, n, threads int) simBed {
	t.Helper()
	fx.Servers = nil
	for i := 1; i <= n; i++ {
		fx.Servers = append(fx.Servers, haServer(i, "compute1"))
	}
	clk := clock.NewSim(epoch)
	cloud, err := simulated.New(fx, clk)
	if err != nil {
		t.Fatal(err)
	}
	cfg := conf.Defaults()
	cfg.Engine.HostFailureRecoveryThreads = threads
	reg := engine.NewRegistry()
	builtin.Register(reg, cloud, cfg)
	return simBed{clk: clk, cloud: cloud, cfg: cfg, reg: reg}
}

// simRun is one host flow on the discrete-event clock: its virtual duration
// and its timeline (every progress entry with its virtual time, then every
// migration with its times), as JSON, and the calls the cloud counted.
func simRun(t *testing.T, n, threads int, evac time.Duration) (time.Duration, string, simulated.Counters) {
	t.Helper()
	fx := justFailed()
	fx.Latency = simulated.Latency{API: 20, Evacuate: int(evac / time.Millisecond)}
	s := newSimBed(t, fx, n, threads)
	clk, cloud, cfg, reg := s.clk, s.cloud, s.cfg, s.reg
	flow, err := engine.Build(reg, cfg, conf.FlowHostAuto)
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	res := (&engine.Runner{Clock: clk, Log: log}).Run(context.Background(), engine.Request{
		NotificationUUID: notificationUUID, Flow: flow, Claims: engine.NewLocalClaims(),
		Store: engine.Store{"host_name": "compute1", "notification_uuid": notificationUUID}})
	if res.Status != engine.StatusFinished {
		t.Fatalf("%s: %v", res.Status, res.Err)
	}
	snap := cloud.Snapshot()
	for _, s := range snap.Servers {
		if s.Host != "compute2" {
			t.Fatalf("server %s on %s, want compute2", s.ID, s.Host)
		}
	}
	var lines []string
	for _, task := range res.Tasks {
		for _, d := range task.Details {
			lines = append(lines, fmt.Sprintf("%s %s %.2f %s", d.Timestamp.Sub(epoch), task.Name, d.Progress, d.Message))
		}
	}
	b, err := json.Marshal(struct {
		Progress   []string
		Migrations []simulated.Migration
	}{lines, snap.Migrations})
	if err != nil {
		t.Fatal(err)
	}
	return clk.Now().Sub(epoch), string(b), cloud.Counters()
}

// On the discrete-event clock, parallel evacuations overlap in virtual time
// as on the wall clock: 100 servers, 32 at a time, evacuations of 2 s, take
// about ceil(100/32) evacuations after the wait for Nova to report the host
// down, and every run gives the same timeline.
func TestHostFlowOnTheDiscreteEventClock(t *testing.T) {
	const n, threads, evac = 100, 32, 2 * time.Second
	// Nova reports the just-failed host down after its service_down_time.
	const downWait = 60 * time.Second
	ideal := downWait + time.Duration((n+threads-1)/threads)*evac
	got, first, _ := simRun(t, n, threads, evac)
	t.Logf("virtual time to recovery %s, ideal %s (%.2f)", got, ideal, got.Seconds()/ideal.Seconds())
	// Confirmations poll every verify_interval (1 s) and every call to Nova
	// takes 20 ms: each round may take up to a poll and some calls more than
	// the evacuation itself. Played one after another, it would take 100
	// evacuations.
	if got < ideal || got > ideal+time.Duration((n+threads-1)/threads)*1500*time.Millisecond {
		t.Fatalf("virtual time to recovery %s, want about %s", got, ideal)
	}
	for run := range 4 {
		d, tl, _ := simRun(t, n, threads, evac)
		if d != got || tl != first {
			t.Fatalf("run %d: %s, timeline differs from the first run's (%s)", run+2, d, got)
		}
	}
}

// The evacuations of a host in flight are confirmed together: every round
// of polls is one list of the changed servers however many evacuations wait
// in it, and a server's state before its evacuation comes from the host's
// list and the rounds after it, not from a read of its own.
func TestConfirmationsShareOneListPerRound(t *testing.T) {
	const n, threads, evac = 100, 32, 2 * time.Second
	_, _, counts := simRun(t, n, threads, evac)
	if got := counts.Ops["get_server"]; got != 0 {
		t.Fatalf("%d server reads, want none: the lists serve every read", got)
	}
	// ceil(100/32) = 4 waves of 2 s, polled at 0, 0.1, 0.2, 0.4, 0.8, 1 and 2 s
	// after each start: a few lists per wave, never one per server.
	if got := counts.Ops["list_servers_changed"]; got == 0 || got > 4*8 {
		t.Fatalf("%d lists of changed servers, want at most %d (a few per wave of evacuations)", got, 4*8)
	}
}
