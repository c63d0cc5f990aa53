package builtin_test

import (
	"context"
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

// evacuateOnSim runs evacuate_instances_task for n servers of the dead
// compute1 on the discrete-event clock and returns its virtual duration and
// the calls the cloud counted.
func evacuateOnSim(t *testing.T, n, threads int, lat simulated.Latency) (time.Duration, simulated.Counters) {
	t.Helper()
	var servers []simulated.Server
	var ids []string
	for i := 1; i <= n; i++ {
		servers = append(servers, haServer(i, "compute1"))
		ids = append(ids, uid(i))
	}
	fx := failedHostCloud(servers...)
	fx.Latency = lat
	clk := clock.NewSim(epoch)
	cloud, err := simulated.New(fx, clk)
	if err != nil {
		t.Fatal(err)
	}
	cfg := conf.Defaults()
	cfg.Engine.HostFailureRecoveryThreads = threads
	reg := engine.NewRegistry()
	builtin.Register(reg, cloud, cfg)
	spec, err := reg.Lookup("evacuate_instances_task")
	if err != nil {
		t.Fatal(err)
	}
	task, err := spec.New(cfg.TaskSection("evacuate_instances_task"))
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	env := engine.NewEnv(notificationUUID, "evacuate_instances_task", clk, logrus.NewEntry(log), func(string, float64) {})
	if _, err := task.Execute(context.Background(), env, evacStore(ids...)); err != nil {
		t.Fatal(err)
	}
	for _, s := range cloud.Snapshot().Servers {
		if s.Host != "compute2" {
			t.Fatalf("server %s on %s, want compute2", s.ID, s.Host)
		}
	}
	return clk.Now().Sub(epoch), cloud.Counters()
}

// While many evacuations of a host are in flight, each is seen done within a
// round of its end, from the lists the others' checks made, whatever its own
// poll schedule: its slot is free for the next server at once. With
// evacuations of 200 ms, checks at 0.1, 0.2 and 0.4 s alone would see most of
// them at 0.4 s and take half as long again.
func TestEvacuationsInFlightAreSeenDoneWithinARound(t *testing.T) {
	const n, threads = 100, 32
	lat := simulated.Latency{API: 5, Evacuate: 200}
	got, counts := evacuateOnSim(t, n, threads, lat)
	waves := time.Duration((n + threads - 1) / threads)
	ideal := waves * 200 * time.Millisecond
	if got > ideal*5/4 {
		t.Fatalf("evacuated %d servers in %s of virtual time, want at most 1.25 × %s", n, got, ideal)
	}
	// The rounds stay one list for every evacuation waiting in them.
	if lists := counts.Ops["list_servers_changed"]; lists > n/2 {
		t.Fatalf("%d lists of changed servers for %d servers, want at most %d", lists, n, n/2)
	}
}
