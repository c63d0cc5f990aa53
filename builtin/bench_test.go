package builtin_test

import (
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
	"github.com/kaifuku-ha/kaifuku/engine/db"
	"github.com/kaifuku-ha/kaifuku/engine/recovery"
	"github.com/kaifuku-ha/kaifuku/engine/service"
)

// swappable lets one built flow run against a fresh cloud each iteration.
type swappable struct{ compute.Cloud }

// flowBench is one default flow on the cloud it recovers, a scenario of
// Masakari's own flow benchmark: the instance, process and host failures
// (recovery method auto with 1, 10 and 100 servers, reserved_host with 10).
type flowBench struct {
	name  string
	kind  conf.FlowKind
	fx    simulated.Fixture
	store engine.Store // notification_uuid is set per run
	// host is the failed host, whose servers must all be elsewhere after
	// the run ("" for the flows that move none).
	host string
}

func flowBenches() []flowBench {
	hostFailure := func(n int) []simulated.Server {
		var servers []simulated.Server
		for i := 1; i <= n; i++ {
			servers = append(servers, haServer(i, "compute1"))
		}
		return servers
	}
	hostStore := engine.Store{"host_name": "compute1"}
	rhStore := engine.Store{"host_name": "compute1", "reserved_host_list": []any{"compute3"}}
	// Nova does everything at once, as the fake Nova of Masakari's
	// benchmark does.
	instant := vmCloud(vm("active", true))
	instant.Latency = simulated.Latency{}
	return []flowBench{
		{name: "instance", kind: conf.FlowInstance, fx: instant, store: vmStore()},
		{name: "process", kind: conf.FlowProcess, fx: processCloud(""), store: processStore},
		{name: "host_auto/servers=1", kind: conf.FlowHostAuto, fx: failedHostCloud(hostFailure(1)...), store: hostStore, host: "compute1"},
		{name: "host_auto/servers=10", kind: conf.FlowHostAuto, fx: failedHostCloud(hostFailure(10)...), store: hostStore, host: "compute1"},
		{name: "host_auto/servers=100", kind: conf.FlowHostAuto, fx: failedHostCloud(hostFailure(100)...), store: hostStore, host: "compute1"},
		{name: "host_reserved/servers=10", kind: conf.FlowHostRH, fx: reservedCloud(hostFailure(10)...), store: rhStore, host: "compute1"},
	}
}

// BenchmarkFlow runs each default flow through engine.Runner on a fresh
// zero-latency simulated cloud, per iteration, as kaifuku runs it:
//
//   - memory: progress, vmoves, server locks and reserved-host claims kept
//     in memory, as kaifuku run keeps them;
//   - durable: the daemon's way, every task event persisted by the
//     service's listener and the vmoves, server locks, reserved-host claims
//     and host updates written, to a SQLite database in a temporary
//     directory (set TMPDIR to choose its file system).
//
// Both log at warning level into nothing, as Masakari's flow benchmark
// logs by default: the happy path says nothing. Building the cloud and
// storing and claiming the notification are not measured.
func BenchmarkFlow(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		for _, fb := range flowBenches() {
			b.Run(fb.name, func(b *testing.B) { benchFlow(b, fb, nil) })
		}
	})
	b.Run("durable", func(b *testing.B) {
		for _, fb := range flowBenches() {
			b.Run(fb.name, func(b *testing.B) { benchFlow(b, fb, newDurable(b)) })
		}
	})
}

func benchFlow(b *testing.B, fb flowBench, du *durable) {
	h := newHarness(b, fb.fx)
	cloud := &swappable{h.cloud}
	h.nova = cloud
	flow, err := engine.Build(h.registry(), h.cfg, fb.kind)
	if err != nil {
		b.Fatal(err)
	}
	h.log.SetLevel(logrus.WarnLevel)
	runner := &engine.Runner{Clock: h.clk, Log: h.log}
	if du != nil {
		runner.Listener = du.svc.Listener()
		h.log = du.log
		runner.Log = du.log
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		c, err := simulated.New(fb.fx, h.clk)
		if err != nil {
			b.Fatal(err)
		}
		cloud.Cloud = c
		req := engine.Request{NotificationUUID: notificationUUID, Flow: flow, Retry: recovery.MainRetry(fb.kind),
			Claims: engine.NewLocalClaims(), VMoves: &engine.MemoryVMoves{}, ServerLocks: engine.NewLocalServerLocks(),
			Hosts: &hostRecorder{}}
		if du != nil {
			req = du.request(b, req)
		}
		req.Store = fb.store.Clone()
		req.Store["notification_uuid"] = req.NotificationUUID
		b.StartTimer()
		res := runner.Run(context.Background(), req)
		b.StopTimer()
		if res.Status != engine.StatusFinished || res.Err != nil {
			b.Fatalf("status %s: %v", res.Status, res.Err)
		}
		checkRecovered(b, fb, c)
		if du != nil {
			du.check(b, req.NotificationUUID, fb.kind, res)
		}
		b.StartTimer()
	}
}

// checkRecovered fails b unless every server left the failed host.
func checkRecovered(b *testing.B, fb flowBench, c *simulated.Cloud) {
	if fb.host == "" {
		return
	}
	// One list, not a Snapshot: what the check leaves behind is garbage
	// the next iteration's collections sweep inside the timer.
	servers, err := c.ListServers(context.Background(), "")
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range servers {
		if s.Host == fb.host || s.Locked {
			b.Fatalf("server %s on %s, locked %v, after the recovery of %s", s.ID, s.Host, s.Locked, fb.host)
		}
	}
}

// durable is the daemon's storage of runs: a SQLite database with the
// segment of the benchmark's hosts, and the service whose listener
// persists every task event.
type durable struct {
	db   *db.DB
	svc  *service.Service
	log  *logrus.Logger
	errs *errorCount
}

// errorCount counts the errors logged: a write the database refused is
// logged by the listener and the run goes on, which must fail the
// benchmark.
type errorCount struct{ n atomic.Int32 }

func (e *errorCount) Levels() []logrus.Level {
	return []logrus.Level{logrus.ErrorLevel, logrus.WarnLevel}
}

func (e *errorCount) Fire(*logrus.Entry) error { e.n.Add(1); return nil }

func newDurable(b *testing.B) *durable {
	ctx := context.Background()
	d, err := db.OpenSQLite(ctx, filepath.Join(b.TempDir(), "kaifuku.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	seg, err := d.CreateSegment(ctx, db.Segment{Name: "seg", RecoveryMethod: "auto", ServiceType: "COMPUTE", Enabled: true})
	if err != nil {
		b.Fatal(err)
	}
	for _, h := range []db.Host{{Name: "compute1"}, {Name: "compute2"}, {Name: "compute3", Reserved: true}} {
		h.Type, h.ControlAttributes = "COMPUTE", "SSH"
		if _, err := d.CreateHost(ctx, seg.UUID, h); err != nil {
			b.Fatal(err)
		}
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	log.SetLevel(logrus.WarnLevel)
	errs := &errorCount{}
	log.AddHook(errs)
	return &durable{db: d, svc: service.New(d, log), log: log, errs: errs}
}

// request stores a notification, claims it for the service as a worker
// does, and gives req the database's recorders.
func (du *durable) request(b *testing.B, req engine.Request) engine.Request {
	ctx := context.Background()
	if err := du.db.SetReserved(ctx, "compute3", true); err != nil {
		b.Fatal(err)
	}
	_, err := du.db.CreateNotification(ctx, db.NewNotification{Type: "COMPUTE_HOST", Hostname: "compute1",
		GeneratedTime: time.Now().UTC(), Payload: json.RawMessage(`{"event":"STOPPED","host_status":"NORMAL","cluster_status":"OFFLINE"}`)}, 0)
	if err != nil {
		b.Fatal(err)
	}
	n, ok, err := du.db.Claim(ctx, du.svc.Owner(), time.Now().Add(time.Hour))
	if err != nil || !ok {
		b.Fatalf("claim: %v, %v", ok, err)
	}
	req.NotificationUUID = n.UUID
	req.Claims = &db.ReservedHostClaims{DB: du.db, Owner: du.svc.Owner()}
	req.VMoves = du.db
	req.ServerLocks = db.ServerLocks{DB: du.db}
	req.Hosts = du.db
	return req
}

// check fails b unless the database holds the run's every task as it
// ended and nothing was logged as failing; it then stores the final
// status, as the service does.
func (du *durable) check(b *testing.B, id string, kind conf.FlowKind, res engine.Result) {
	ctx := context.Background()
	if n := du.errs.n.Load(); n > 0 {
		b.Fatalf("%d errors or warnings logged", n)
	}
	runs, err := du.db.FlowRuns(ctx, id)
	if err != nil || len(runs) != 1 || runs[0].Flow != string(kind) || runs[0].Store == nil || len(runs[0].Records) != len(res.Tasks) {
		b.Fatalf("persisted runs %+v, %v; want the %s flow with %d tasks", runs, err, kind, len(res.Tasks))
	}
	for i, raw := range runs[0].Records {
		var rec engine.TaskRecord
		if err := json.Unmarshal(raw, &rec); err != nil {
			b.Fatal(err)
		}
		if want := res.Tasks[i]; rec.Name != want.Name || rec.State != engine.StateSuccess || len(rec.Details) != len(want.Details) {
			b.Fatalf("persisted %s: %s with %d progress entries; want %s, SUCCESS with %d", rec.Name, rec.State, len(rec.Details), want.Name, len(want.Details))
		}
	}
	if ok, err := du.db.Finish(ctx, id, du.svc.Owner(), engine.StatusFinished, nil); err != nil || !ok {
		b.Fatalf("finish: %v, %v", ok, err)
	}
}

func TestFlowBenchesRecover(t *testing.T) {
	// The benchmark's fixtures and stores run their flows to the end: the
	// benchmark measures recoveries, not early ends.
	for _, fb := range flowBenches() {
		h := newHarness(t, fb.fx)
		store := fb.store.Clone()
		store["notification_uuid"] = notificationUUID
		res := h.runFlow(fb.kind, store)
		if res.Status != engine.StatusFinished || res.Err != nil {
			t.Fatalf("%s: status %s: %v", fb.name, res.Status, res.Err)
		}
		for _, rec := range res.Tasks {
			if rec.State != engine.StateSuccess {
				t.Fatalf("%s: task %s %s", fb.name, rec.Name, rec.State)
			}
		}
	}
}
