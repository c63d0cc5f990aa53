package builtin_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/builtin"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
)

func evacStore(ids ...string) engine.Store {
	list := make([]any, len(ids))
	for i, id := range ids {
		list[i] = id
	}
	return engine.Store{"host_name": "compute1", "notification_uuid": "9b2e8ad0-2a4c-4a8e-b1f1-0c3e5d7f9a11",
		"instance_list": list}
}

func evacuated(ids ...string) []entry {
	out := []entry{{"Start evacuation of instances from failed host 'compute1', instance uuids are: '" + strings.Join(ids, ",") + "'", 0.0}}
	for _, id := range ids {
		out = append(out, entry{"Evacuation of instance started: '" + id + "'", 0.5})
	}
	return out
}

// TestEvacuateEveryStateBranch plays every row of reference table 2.3: what
// happens before the evacuation, and whether the server is stopped (and put
// back in error) after it.
func TestEvacuateEveryStateBranch(t *testing.T) {
	cases := []struct {
		vm, task string
		power    int
		resets   int    // os-resetState calls
		stops    int    // os-stop calls
		final    string // vm_state after recovery
	}{
		{vm: "active", resets: 0, stops: 0, final: "active"},
		{vm: "active", task: "rebooting", resets: 1, stops: 0, final: "active"},
		{vm: "stopped", resets: 0, stops: 0, final: "stopped"},
		{vm: "stopped", task: "powering-on", resets: 1, stops: 1, final: "stopped"},
		{vm: "error", resets: 1, stops: 1, final: "error"},
		{vm: "error", task: "rebuilding", resets: 2, stops: 1, final: "error"},
		{vm: "paused", resets: 1, stops: 1, final: "stopped"},
		{vm: "rescued", resets: 1, stops: 1, final: "stopped"},
		{vm: "suspended", resets: 1, stops: 1, final: "stopped"},
		{vm: "shelved", resets: 1, stops: 1, final: "stopped"},
		{vm: "resized", resets: 1, stops: 0, final: "active"},
		{vm: "resized", power: 4, resets: 1, stops: 1, final: "stopped"},
	}
	for _, c := range cases {
		name := c.vm + "/" + c.task
		if c.power != 0 {
			name += fmt.Sprintf("/power%d", c.power)
		}
		t.Run(name, func(t *testing.T) {
			s := haServer(1, "compute1")
			s.VMState, s.TaskState, s.PowerState = c.vm, c.task, c.power
			fx := failedHostCloud(s)
			fx.Latency = simulated.Latency{Stop: 3000, Evacuate: 5000}
			h := newHarness(t, fx)
			h.wantRun("evacuate_instances_task", evacStore(uid(1)), append(evacuated(uid(1)),
				entry{"Successfully evacuate instances '" + uid(1) + "' from host 'compute1'", 0.7},
				entry{"Evacuation process completed!", 1.0})...)
			srv := h.server(uid(1))
			if srv.Host != "compute2" || srv.HypervisorHostname != "compute2" || srv.VMState != c.final || srv.TaskState != nil {
				t.Fatalf("server on %s in %s/%v, want on compute2 in %s", srv.Host, srv.VMState, srv.TaskState, c.final)
			}
			if srv.Locked {
				t.Fatal("server left locked")
			}
			if n := h.serverOps(uid(1), "reset_state"); n != c.resets {
				t.Errorf("%d resets, want %d", n, c.resets)
			}
			if n := h.serverOps(uid(1), "stop"); n != c.stops {
				t.Errorf("%d stops, want %d", n, c.stops)
			}
			if h.serverOps(uid(1), "lock") != 1 || h.serverOps(uid(1), "unlock") != 1 || h.serverOps(uid(1), "evacuate") != 1 {
				t.Errorf("calls %v, want one lock, evacuate and unlock", h.cloud.Counters().Servers[uid(1)])
			}
		})
	}
}

func TestEvacuateKeepsAUserLockAlone(t *testing.T) {
	s := haServer(1, "compute1")
	s.Locked = true
	h := newHarness(t, failedHostCloud(s))
	h.succeed("evacuate_instances_task", evacStore(uid(1)))
	if !h.server(uid(1)).Locked || h.serverOps(uid(1), "lock") != 0 || h.serverOps(uid(1), "unlock") != 0 {
		t.Fatalf("locked %v, calls %v; want the user's lock untouched", h.server(uid(1)).Locked, h.cloud.Counters().Servers[uid(1)])
	}
}

func TestEvacuateReportsSucceededSortedAndFailedThenFails(t *testing.T) {
	// Listed out of order: success ids are reported sorted, failures in list
	// order.
	fx := failedHostCloud(haServer(9, "compute1"), haServer(2, "compute1"), haServer(5, "compute1"),
		haServer(7, "compute1"), haServer(3, "compute1"))
	fx.Faults = []simulated.Fault{
		{Op: "evacuate", Server: uid(5), Error: "error"},    // the rebuild fails: vm_state error
		{Op: "evacuate", Server: uid(7), Error: "never"},    // accepted, never completes: timeout
		{Op: "evacuate", Server: uid(3), Error: "conflict"}, // refused
	}
	h := newHarness(t, fx)
	ids := []string{uid(9), uid(2), uid(5), uid(7), uid(3)}
	_, err, got := h.run(context.Background(), "evacuate_instances_task", evacStore(ids...))
	msg := "Failed to evacuate instances '" + uid(5) + "," + uid(7) + "," + uid(3) + "' from host 'compute1'"
	wantFailure(t, err, msg)
	wantProgress(t, got, append(evacuated(ids...),
		entry{"Successfully evacuate instances '" + uid(2) + "," + uid(9) + "' from host 'compute1'", 0.7},
		entry{msg, 0.7})...)
	for _, id := range ids {
		if h.server(id).Locked {
			t.Errorf("server %s left locked after a failed evacuation", id)
		}
	}
	if h.server(uid(5)).VMState != "error" {
		t.Fatalf("server 5 in %s", h.server(uid(5)).VMState)
	}
}

func TestEvacuateTimesOutAfterWaitPeriodAfterEvacuation(t *testing.T) {
	fx := failedHostCloud(haServer(1, "compute1"))
	fx.Faults = []simulated.Fault{{Op: "evacuate", Error: "never"}}
	h := newHarness(t, fx)
	_, err, _ := h.run(context.Background(), "evacuate_instances_task", evacStore(uid(1)))
	wantFailure(t, err, "Failed to evacuate instances '"+uid(1)+"' from host 'compute1'")
	if h.elapsed() != 90*time.Second {
		t.Fatalf("gave up after %s, want wait_period_after_evacuation (90s)", h.elapsed())
	}
	// Read from the host's list before; then polled through the list of
	// changed servers every verify_interval, after early polls at 0.1, 0.2,
	// 0.4 and 0.8 s.
	if n, lists := h.serverOps(uid(1), "get_server"), h.ops("list_servers"); n != 0 || lists != 1 {
		t.Fatalf("%d server reads and %d lists of the host, want none and one (before the evacuation)", n, lists)
	}
	if n := h.ops("list_servers_changed"); n != 91+4 {
		t.Fatalf("%d lists, want 95 (polls at 0, 0.1, 0.2, 0.4, 0.8, 1..90 s)", n)
	}
}

func TestEvacuateFailsWhenTheStopAfterItTimesOut(t *testing.T) {
	s := haServer(1, "compute1")
	s.VMState = "error"
	fx := failedHostCloud(s)
	fx.Faults = []simulated.Fault{{Op: "stop", Error: "never"}}
	h := newHarness(t, fx)
	_, err, _ := h.run(context.Background(), "evacuate_instances_task", evacStore(uid(1)))
	wantFailure(t, err, "Failed to evacuate instances '"+uid(1)+"' from host 'compute1'")
	if h.elapsed() != 180*time.Second {
		t.Fatalf("gave up after %s, want wait_period_after_power_off (180s)", h.elapsed())
	}
	srv := h.server(uid(1))
	if srv.Host != "compute2" || srv.Locked || h.serverOps(uid(1), "reset_state") != 0 {
		t.Fatalf("server %+v; want evacuated, unlocked, not reset after the failed stop", srv)
	}
}

func TestEvacuateFailsWhileNovaStillSeesTheSourceUp(t *testing.T) {
	h := newHarness(t, justFailed())
	_, err, _ := h.run(context.Background(), "evacuate_instances_task", evacStore(uid(1)))
	if err == nil || err.Error() != "Failed to evacuate instances '"+uid(1)+"' from host 'compute1'" {
		t.Fatalf("err = %v", err)
	}
	if h.server(uid(1)).Locked {
		t.Fatal("server left locked")
	}
}

func TestEvacuateLockFailureIsAPerServerFailure(t *testing.T) {
	fx := failedHostCloud(haServer(1, "compute1"), haServer(2, "compute1"))
	fx.Faults = []simulated.Fault{{Op: "lock", Server: uid(1), Error: "forbidden"}}
	h := newHarness(t, fx)
	_, err, got := h.run(context.Background(), "evacuate_instances_task", evacStore(uid(1), uid(2)))
	if err == nil || err.Error() != "Failed to evacuate instances '"+uid(1)+"' from host 'compute1'" {
		t.Fatalf("err = %v", err)
	}
	if got[len(got)-2].Msg != "Successfully evacuate instances '"+uid(2)+"' from host 'compute1'" {
		t.Fatalf("progress %v", got)
	}
	if h.server(uid(1)).Host != "compute1" || h.serverOps(uid(1), "evacuate") != 0 || h.serverOps(uid(1), "unlock") != 0 {
		t.Fatalf("server 1: %v", h.cloud.Counters().Servers[uid(1)])
	}
}

func TestEvacuateUnlocksEvenWhenTheTaskRunsOutOfTime(t *testing.T) {
	fx := failedHostCloud(haServer(1, "compute1"), haServer(2, "compute1"))
	fx.Faults = []simulated.Fault{{Op: "evacuate", Error: "never"}}
	h := newHarness(t, fx)
	ctx := clock.WithDeadline(context.Background(), epoch.Add(20*time.Second))
	_, err, got := h.run(ctx, "evacuate_instances_task", evacStore(uid(1), uid(2)))
	var rerr *engine.RecoveryError
	if !errors.Is(err, context.DeadlineExceeded) || errors.As(err, &rerr) {
		t.Fatalf("err = %v, want the deadline, not a recovery failure", err)
	}
	for _, id := range []string{uid(1), uid(2)} {
		if h.server(id).Locked {
			t.Errorf("server %s left locked", id)
		}
	}
	wantProgress(t, got, evacuated(uid(1), uid(2))...)
}

func TestEvacuateEmptyList(t *testing.T) {
	h := newHarness(t, failedHostCloud())
	h.wantRun("evacuate_instances_task", evacStore(),
		entry{"Start evacuation of instances from failed host 'compute1', instance uuids are: ''", 0.0},
		entry{"Evacuation process completed!", 1.0})
}

func TestEvacuateBadStore(t *testing.T) {
	h := newHarness(t, failedHostCloud())
	in := evacStore()
	in["instance_list"] = "not a list"
	if _, err, _ := h.run(context.Background(), "evacuate_instances_task", in); err == nil || !strings.Contains(err.Error(), `"instance_list"`) {
		t.Fatalf("err = %v, want one naming instance_list", err)
	}
	in = evacStore()
	in["reserved_host"] = 3.0
	if _, err, _ := h.run(context.Background(), "evacuate_instances_task", in); err == nil || !strings.Contains(err.Error(), `"reserved_host"`) {
		t.Fatalf("err = %v, want one naming reserved_host", err)
	}
}

// reservedCloud: compute1 (failed) is in agg1 and agg2, compute3 is a
// disabled reserved host; compute2 is up but full, so only the reserved host
// can take the servers.
func reservedCloud(servers ...simulated.Server) simulated.Fixture {
	fx := failedHostCloud(servers...)
	fx.Hosts[0].Aggregates = []string{"agg1", "agg2"}
	fx.Hosts[1].Aggregates = []string{"agg3"}
	fx.Hosts[1].Status = "disabled"
	return fx
}

func rhStore(rh string, ids ...string) engine.Store {
	s := evacStore(ids...)
	s["reserved_host"] = rh
	return s
}

func TestEvacuateToAReservedHost(t *testing.T) {
	h := newHarness(t, reservedCloud(haServer(1, "compute1"), haServer(2, "compute1")))
	h.cfg.HostFailure.AddReservedHostToAggregate = true
	h.wantRun("evacuate_instances_task", rhStore("compute3", uid(1), uid(2)),
		entry{"Start evacuation of instances from failed host 'compute1', instance uuids are: '" + uid(1) + "," + uid(2) + "'", 0.0},
		entry{"Enabling reserved host: 'compute3'", 0.1},
		entry{"Add host compute3 to aggregate agg1", 0.2},
		entry{"Added host compute3 to aggregate agg1", 0.3},
		entry{"Add host compute3 to aggregate agg2", 0.2},
		entry{"Added host compute3 to aggregate agg2", 0.3},
		entry{"Evacuation of instance started: '" + uid(1) + "'", 0.5},
		entry{"Evacuation of instance started: '" + uid(2) + "'", 0.5},
		entry{"Successfully evacuate instances '" + uid(1) + "," + uid(2) + "' from host 'compute1'", 0.7},
		entry{"Evacuation process completed!", 1.0})
	for _, id := range []string{uid(1), uid(2)} {
		if s := h.server(id); s.Host != "compute3" {
			t.Fatalf("server %s on %s, want the reserved host", id, s.Host)
		}
	}
	if svc := h.service("compute3"); svc.Status != "enabled" {
		t.Fatalf("reserved host service %s, want enabled", svc.Status)
	}
	for _, a := range h.cloud.Snapshot().Aggregates {
		in := strings.Contains(strings.Join(a.Hosts, ","), "compute3")
		if in != (a.Name != "agg3") {
			t.Fatalf("aggregate %s hosts %v", a.Name, a.Hosts)
		}
	}
	if h.hosts.String() != "compute3 reserved=false" {
		t.Fatalf("update_host_method calls %q", h.hosts)
	}
	// The claim is released.
	unlock, err := h.claims.ClaimReservedHost(context.Background(), "another-notification", "compute3")
	if err != nil {
		t.Fatalf("claim still held: %v", err)
	}
	unlock()
}

func TestEvacuateReservedHostAlreadyInTheAggregate(t *testing.T) {
	fx := reservedCloud(haServer(1, "compute1"))
	fx.Hosts[2].Aggregates = []string{"agg1"}
	h := newHarness(t, fx)
	h.cfg.HostFailure.AddReservedHostToAggregate = true
	got := h.succeed("evacuate_instances_task", rhStore("compute3", uid(1)))
	wantProgress(t, got[:6],
		entry{"Start evacuation of instances from failed host 'compute1', instance uuids are: '" + uid(1) + "'", 0.0},
		entry{"Enabling reserved host: 'compute3'", 0.1},
		entry{"Add host compute3 to aggregate agg1", 0.2},
		entry{"Host 'compute3' already has been added to aggregate 'agg1'.", 1.0},
		entry{"Add host compute3 to aggregate agg2", 0.2},
		entry{"Added host compute3 to aggregate agg2", 0.3})
}

func TestEvacuateReservedHostWithoutAggregates(t *testing.T) {
	h := newHarness(t, reservedCloud(haServer(1, "compute1")))
	h.hosts = nil // no segment database: nothing to update
	h.wantRun("evacuate_instances_task", rhStore("compute3", uid(1)),
		entry{"Start evacuation of instances from failed host 'compute1', instance uuids are: '" + uid(1) + "'", 0.0},
		entry{"Enabling reserved host: 'compute3'", 0.1},
		entry{"Evacuation of instance started: '" + uid(1) + "'", 0.5},
		entry{"Successfully evacuate instances '" + uid(1) + "' from host 'compute1'", 0.7},
		entry{"Evacuation process completed!", 1.0})
	if h.ops("list_aggregates") != 0 || h.ops("add_host_to_aggregate") != 0 {
		t.Fatal("aggregates touched without add_reserved_host_to_aggregate")
	}
	if h.server(uid(1)).Host != "compute3" {
		t.Fatal("not evacuated to the reserved host")
	}
}

func TestEvacuateReservedHostLockHeld(t *testing.T) {
	h := newHarness(t, reservedCloud(haServer(1, "compute1")))
	unlock, err := h.claims.ClaimReservedHost(context.Background(), "another-notification", "compute3")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	_, err, got := h.run(context.Background(), "evacuate_instances_task", rhStore("compute3", uid(1)))
	var held *builtin.LockHeldError
	if !errors.As(err, &held) || !errors.Is(err, engine.ErrLockHeld) || err.Error() != "Lock is already acquired on compute3." {
		t.Fatalf("err = %v, want Masakari's LockAlreadyAcquired", err)
	}
	wantProgress(t, got, entry{"Start evacuation of instances from failed host 'compute1', instance uuids are: '" + uid(1) + "'", 0.0})
	if h.service("compute3").Status != "disabled" || h.hosts.String() != "" || h.serverOps(uid(1), "evacuate") != 0 {
		t.Fatal("the reserved host was touched without its lock")
	}
}

func TestEvacuateReservedHostPreparationErrors(t *testing.T) {
	t.Run("aggregate add fails", func(t *testing.T) {
		fx := reservedCloud(haServer(1, "compute1"))
		fx.Faults = []simulated.Fault{{Op: "add_host_to_aggregate", Error: "unavailable"}}
		h := newHarness(t, fx)
		h.cfg.HostFailure.AddReservedHostToAggregate = true
		_, err, _ := h.run(context.Background(), "evacuate_instances_task", rhStore("compute3", uid(1)))
		if !errors.Is(err, compute.ErrUnavailable) || !strings.Contains(err.Error(), `add host "compute3" to aggregate "agg1"`) {
			t.Fatalf("err = %v", err)
		}
		if h.serverOps(uid(1), "evacuate") != 0 {
			t.Fatal("evacuated after a failed preparation")
		}
	})
	t.Run("enable fails", func(t *testing.T) {
		fx := reservedCloud(haServer(1, "compute1"))
		fx.Faults = []simulated.Fault{{Op: "enable_service", Error: "forbidden"}}
		h := newHarness(t, fx)
		_, err, _ := h.run(context.Background(), "evacuate_instances_task", rhStore("compute3", uid(1)))
		if !errors.Is(err, compute.ErrForbidden) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("segment update fails", func(t *testing.T) {
		h := newHarness(t, reservedCloud(haServer(1, "compute1")))
		h.hosts.err = errors.New("database is locked")
		_, err, _ := h.run(context.Background(), "evacuate_instances_task", rhStore("compute3", uid(1)))
		if err == nil || err.Error() != `mark host "compute3" as no longer reserved: database is locked` {
			t.Fatalf("err = %v", err)
		}
	})
}

// concurrencyCloud counts servers between lock and unlock. The first wave of
// evacuations waits until want servers have been in flight together (or a
// real-time limit passes), so the test sees the parallelism the pool allows
// even though the fake clock never blocks.
type concurrencyCloud struct {
	compute.Cloud
	want int

	mu       sync.Mutex
	cond     *sync.Cond
	inFlight int
	max      int
	gated    int
}

func newConcurrencyCloud(c compute.Cloud, want int) *concurrencyCloud {
	cc := &concurrencyCloud{Cloud: c, want: want}
	cc.cond = sync.NewCond(&cc.mu)
	return cc
}

func (c *concurrencyCloud) Lock(ctx context.Context, id string) error {
	c.mu.Lock()
	c.inFlight++
	c.max = max(c.max, c.inFlight)
	c.cond.Broadcast()
	c.mu.Unlock()
	return c.Cloud.Lock(ctx, id)
}

func (c *concurrencyCloud) Unlock(ctx context.Context, id string) error {
	c.mu.Lock()
	c.inFlight--
	c.mu.Unlock()
	return c.Cloud.Unlock(ctx, id)
}

func (c *concurrencyCloud) Evacuate(ctx context.Context, id, target string) error {
	// It makes the call wait, as Nova does: the evacuations' pool is told.
	clock.Waiting(ctx)
	c.mu.Lock()
	if c.gated < c.want {
		c.gated++
		limit := time.AfterFunc(5*time.Second, func() { c.mu.Lock(); c.cond.Broadcast(); c.mu.Unlock() })
		began := time.Now()
		for c.max < c.want && time.Since(began) < 5*time.Second {
			c.cond.Wait()
		}
		limit.Stop()
	}
	c.mu.Unlock()
	return c.Cloud.Evacuate(ctx, id, target)
}

func TestEvacuationsRunInParallelBoundedByRecoveryThreads(t *testing.T) {
	for _, threads := range []int{1, 3, 5} {
		t.Run(fmt.Sprintf("threads=%d", threads), func(t *testing.T) {
			var servers []simulated.Server
			var ids []string
			for i := 1; i <= 12; i++ {
				servers = append(servers, haServer(i, "compute1"))
				ids = append(ids, uid(i))
			}
			fx := failedHostCloud(servers...)
			fx.Latency = simulated.Latency{API: 50, Evacuate: 2000}
			h := newHarness(t, fx)
			h.cfg.Engine.HostFailureRecoveryThreads = threads
			cc := newConcurrencyCloud(h.cloud, threads)
			h.nova = cc
			_, err, _ := h.run(context.Background(), "evacuate_instances_task", evacStore(ids...))
			if err != nil {
				t.Fatal(err)
			}
			if cc.max != threads {
				t.Fatalf("at most %d evacuations in flight, want exactly host_failure_recovery_threads = %d", cc.max, threads)
			}
			for _, id := range ids {
				if h.server(id).Host != "compute2" {
					t.Fatalf("server %s not evacuated", id)
				}
			}
		})
	}
}

func TestEvacuateStartsNothingOnceTheTaskIsOutOfTime(t *testing.T) {
	fx := failedHostCloud(haServer(1, "compute1"), haServer(2, "compute1"), haServer(3, "compute1"))
	fx.Faults = []simulated.Fault{{Op: "evacuate", Server: uid(1), Error: "never"}}
	h := newHarness(t, fx)
	h.cfg.Engine.HostFailureRecoveryThreads = 1
	ctx := clock.WithDeadline(context.Background(), epoch.Add(20*time.Second))
	_, err, _ := h.run(ctx, "evacuate_instances_task", evacStore(uid(1), uid(2), uid(3)))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}
	if h.serverOps(uid(2), "evacuate")+h.serverOps(uid(3), "evacuate") != 0 {
		t.Fatalf("evacuations started after the deadline: %v", h.cloud.Counters().Evacuations)
	}
}

// A run resumed after a restart repeats the evacuation of instance_list,
// which holds servers the first run had already moved. Such a server is no
// longer on the failed host: evacuating it again is refused by Nova (its
// host is up), failed the task and, in the reserved-host flow, used up one
// reserved host per attempt. It is left alone.
func TestEvacuateLeavesAServerAlreadyMovedAlone(t *testing.T) {
	h := newHarness(t, failedHostCloud(haServer(1, "compute1"), haServer(2, "compute2")))
	h.succeed("evacuate_instances_task", evacStore(uid(1), uid(2)))
	if n := h.serverOps(uid(2), "evacuate"); n != 0 {
		t.Fatalf("server already on compute2 evacuated %d time(s)", n)
	}
	if n := h.serverOps(uid(1), "evacuate"); n != 1 {
		t.Fatalf("server on the failed host evacuated %d time(s), want 1", n)
	}
	if s := h.server(uid(2)); s.Locked {
		t.Fatal("server already moved left locked")
	}
}

// TestEvacuateWaitsForAnEvacuationAlreadyUnderWay is the resume after a
// crash that came after Nova accepted an evacuation: the server is still on
// the failed host, rebuilding. It is waited for, not reset and evacuated a
// second time, and still gets the post-steps of its vm_state.
func TestEvacuateWaitsForAnEvacuationAlreadyUnderWay(t *testing.T) {
	cases := []struct {
		vm            string
		resets, stops int
		final         string
	}{
		{vm: "active", final: "active"},
		{vm: "stopped", final: "stopped"},
		{vm: "error", resets: 1, stops: 1, final: "error"},
	}
	for _, c := range cases {
		t.Run(c.vm, func(t *testing.T) {
			s := haServer(1, "compute1")
			s.VMState = c.vm
			fx := failedHostCloud(s)
			fx.Latency = simulated.Latency{Stop: 3000, Evacuate: 30000}
			h := newHarness(t, fx)
			// The evacuation asked for before the daemon stopped.
			if err := h.cloud.Evacuate(context.Background(), uid(1), ""); err != nil {
				t.Fatal(err)
			}
			if srv := h.server(uid(1)); srv.TaskState == nil || *srv.TaskState != "rebuilding" || srv.Host != "compute1" {
				t.Fatalf("setup: server on %s task_state %v, want rebuilding on compute1", srv.Host, srv.TaskState)
			}
			h.wantRun("evacuate_instances_task", evacStore(uid(1)), append(evacuated(uid(1)),
				entry{"Successfully evacuate instances '" + uid(1) + "' from host 'compute1'", 0.7},
				entry{"Evacuation process completed!", 1.0})...)
			if n := h.serverOps(uid(1), "evacuate"); n != 1 {
				t.Errorf("evacuated %d times in all, want only the one under way", n)
			}
			if n := h.serverOps(uid(1), "reset_state"); n != c.resets {
				t.Errorf("%d resets, want %d", n, c.resets)
			}
			if n := h.serverOps(uid(1), "stop"); n != c.stops {
				t.Errorf("%d stops, want %d", n, c.stops)
			}
			srv := h.server(uid(1))
			if srv.Host != "compute2" || srv.VMState != c.final || srv.TaskState != nil || srv.Locked {
				t.Fatalf("server on %s in %s/%v locked %v, want on compute2 in %s, unlocked", srv.Host, srv.VMState, srv.TaskState, srv.Locked, c.final)
			}
			if h.elapsed() > 40*time.Second {
				t.Errorf("took %s, want about the evacuation's 30s", h.elapsed())
			}
		})
	}
}
