package builtin_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
)

// evacuateOnSim runs evacuate_instances_task for n servers of the dead
// compute1 on the discrete-event clock and returns its virtual duration and
// the calls the cloud counted.
func evacuateOnSim(t *testing.T, n, threads int, lat simulated.Latency) (time.Duration, simulated.Counters) {
	t.Helper()
	fx := failedHostCloud()
	fx.Latency = lat
	s := newSimBed(t, fx, n, threads)
	spec, err := s.reg.Lookup("evacuate_instances_task")
	if err != nil {
		t.Fatal(err)
	}
	task, err := spec.New(s.cfg.TaskSection("evacuate_instances_task"))
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	env := engine.NewEnv(notificationUUID, "evacuate_instances_task", s.clk, logrus.NewEntry(log), func(string, float64) {})
	var ids []string
	for i := 1; i <= n; i++ {
		ids = append(ids, uid(i))
	}
	if _, err := task.Execute(context.Background(), env, evacStore(ids...)); err != nil {
		t.Fatal(err)
	}
	for _, srv := range s.cloud.Snapshot().Servers {
		if srv.Host != "compute2" {
			t.Fatalf("server %s on %s, want compute2", srv.ID, srv.Host)
		}
	}
	return s.clk.Now().Sub(epoch), s.cloud.Counters()
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

// userLockCloud locks server other, as a user would, when the evacuation of
// server first is asked for.
type userLockCloud struct {
	*simulated.Cloud
	first, other string
}

func (c *userLockCloud) Evacuate(ctx context.Context, id, target string) error {
	if id == c.first {
		if err := c.Cloud.Lock(ctx, c.other); err != nil {
			return err
		}
	}
	return c.Cloud.Evacuate(ctx, id, target)
}

// A server's state before its evacuation is the host's list at the task's
// start only until it changes: a user's lock taken after that list, while
// the server waited for its turn, is seen in the rounds' lists, and the
// server is evacuated without taking or releasing a lock of its own.
func TestEvacuateSeesAChangeAfterTheHostsList(t *testing.T) {
	h := newHarness(t, failedHostCloud(haServer(1, "compute1"), haServer(2, "compute1")))
	h.cfg.Engine.HostFailureRecoveryThreads = 1
	h.nova = &userLockCloud{Cloud: h.cloud, first: uid(1), other: uid(2)}
	h.succeed("evacuate_instances_task", evacStore(uid(1), uid(2)))
	s := h.server(uid(2))
	if s.Host != "compute2" || !s.Locked || h.serverOps(uid(2), "unlock") != 0 {
		t.Fatalf("server 2 on %s, locked %v, calls %v; want it evacuated with the user's lock untouched",
			s.Host, s.Locked, h.cloud.Counters().Servers[uid(2)])
	}
}

// Without the host's list, every server is read on its own before its
// evacuation, and the recovery goes on.
func TestEvacuateReadsEachServerWhenTheHostsListFails(t *testing.T) {
	fx := failedHostCloud(haServer(1, "compute1"), haServer(2, "compute1"))
	fx.Faults = []simulated.Fault{{Op: "list_servers", Error: "unavailable"}}
	h := newHarness(t, fx)
	h.succeed("evacuate_instances_task", evacStore(uid(1), uid(2)))
	for _, id := range []string{uid(1), uid(2)} {
		if s := h.server(id); s.Host != "compute2" || h.serverOps(id, "get_server") != 1 {
			t.Fatalf("server %s on %s after %d reads, want compute2 after one", id, s.Host, h.serverOps(id, "get_server"))
		}
	}
}
