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
	// Each server: lock, evacuate, unlock; the host's lists and the polls.
	if r.Requests < 3*c.Servers || r.RequestsPerServer() != float64(r.Requests)/10 {
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

// Over HTTP the engine drives simcloud through the Nova driver: every
// server ends on the spare host, the requests are what simcloud received
// (each call the cloud counted is one request, at least a lock, an
// evacuation, a read and an unlock per server; the login is Keystone's),
// and the run was on the wall clock.
func TestRunOverHTTP(t *testing.T) {
	c := bench.Case{Servers: 20, Threads: 8, API: time.Millisecond, Evacuate: 20 * time.Millisecond, HTTP: true, RealTime: true}
	r, err := bench.Run(context.Background(), conf.Defaults(), builtin.Register, c)
	if err != nil {
		t.Fatal(err)
	}
	if r.ClockName() != "wall" || r.CloudApart || r.CloudCPU != 0 {
		t.Errorf("clock %s, cloud apart %v (%s)", r.ClockName(), r.CloudApart, r.CloudCPU)
	}
	if len(r.Placement) != c.Servers {
		t.Errorf("placement of %d servers, want %d", len(r.Placement), c.Servers)
	}
	for id, h := range r.Placement {
		if h != "spare" {
			t.Errorf("server %s on %s", id, h)
		}
	}
	if r.Ops["evacuate"] != c.Servers {
		t.Errorf("%d evacuations, want %d: %v", r.Ops["evacuate"], c.Servers, r.Ops)
	}
	calls := 0
	for op, n := range r.Ops {
		switch op {
		case "disable_service", "enable_service", "force_down", "force_up": // parts of an update_service
		default:
			calls += n
		}
	}
	if r.Requests != calls || r.Requests < 3*c.Servers || r.RequestsPerServer() != float64(r.Requests)/float64(c.Servers) {
		t.Errorf("%d requests received (%.2f per server), %d calls counted by the cloud: %v", r.Requests, r.RequestsPerServer(), calls, r.Ops)
	}
	if r.Keystone < 1 {
		t.Errorf("%d Keystone requests: the driver did not log in through simcloud", r.Keystone)
	}
	if r.TimeToRecovery < c.Ideal() {
		t.Errorf("ttr %s below the ideal %s", r.TimeToRecovery, c.Ideal())
	}
	t.Logf("ttr %s (ideal %s), %d requests (%.2f per server), %d to Keystone, cpu %s", r.TimeToRecovery, c.Ideal(),
		r.Requests, r.RequestsPerServer(), r.Keystone, r.CPU)
}

func TestRunRejectsBadCases(t *testing.T) {
	for _, c := range []bench.Case{{Servers: 0, Threads: 1}, {Servers: 1, Threads: 0},
		{Servers: 1, Threads: 1, ServiceDownTime: 1500 * time.Millisecond},
		{Servers: 1, Threads: 1, HTTP: true},
		{Servers: 1, Threads: 1, RealTime: true, Simcloud: "kaifuku"},
		{Servers: 1, Threads: 1, RealTime: true, HTTP: true, Simcloud: "/nonexistent/kaifuku"}} {
		if _, err := bench.Run(context.Background(), conf.Defaults(), builtin.Register, c); err == nil || !strings.HasPrefix(err.Error(), "bench: ") {
			t.Errorf("%+v: err %v", c, err)
		}
	}
}

// Ten failed hosts of a hundred servers each under a bound of 32
// evacuations across them: Nova never has more in flight, so the recovery
// takes at least 1000/32 evacuation times and no more than 1.10 × the
// ideal; the hosts share the slots in turn, so they are done together.
// Without the bound each host would run its
// own 32 at once.
func TestManyHostsShareTheEvacuationBound(t *testing.T) {
	c := bench.Case{Hosts: 10, Servers: 100, Threads: 32, MaxConcurrent: 32, API: 20 * time.Millisecond, Evacuate: 2 * time.Second}
	r, err := bench.Run(context.Background(), conf.Defaults(), builtin.Register, c)
	if err != nil {
		t.Fatal(err)
	}
	floor := time.Duration(float64(c.Hosts*c.Servers) / float64(c.MaxConcurrent) * float64(c.Evacuate))
	if r.TimeToRecovery < floor || r.Ratio() > 1.10 {
		t.Errorf("time to recovery %s: want at least %s (the bound) and at most 1.10 × the ideal %s (ratio %.3f)", r.TimeToRecovery, floor, r.Ideal(), r.Ratio())
	}
	// Host 1 reaches its evacuations first, at the same virtual instant as
	// the others, and takes the free slots; from then on they go in turn.
	late := 0
	for _, d := range r.HostTimes {
		if d >= r.TimeToRecovery*9/10 {
			late++
		}
	}
	if late < 8 {
		t.Errorf("hosts recovered after %v: fewer than 8 of 10 within a tenth of the last; the hosts did not share the slots", r.HostTimes)
	}
	unbounded := c
	unbounded.MaxConcurrent = 0
	u, err := bench.Run(context.Background(), conf.Defaults(), builtin.Register, unbounded)
	if err != nil {
		t.Fatal(err)
	}
	if u.TimeToRecovery >= r.TimeToRecovery/4 || u.Ratio() > 1.10 {
		t.Errorf("without the bound: %s (ideal %s), with it %s", u.TimeToRecovery, u.Ideal(), r.TimeToRecovery)
	}
	again, err := bench.Run(context.Background(), conf.Defaults(), builtin.Register, c)
	if err != nil {
		t.Fatal(err)
	}
	if again.TimeToRecovery != r.TimeToRecovery || again.FirstHost != r.FirstHost || again.Requests != r.Requests {
		t.Errorf("not the same timeline twice: %s/%s/%d then %s/%s/%d", r.TimeToRecovery, r.FirstHost, r.Requests,
			again.TimeToRecovery, again.FirstHost, again.Requests)
	}
	t.Logf("bound 32: %s (ideal %s, hosts %v, %.2f req/server); unbounded: %s (%.2f req/server)",
		r.TimeToRecovery, r.Ideal(), r.HostTimes, r.RequestsPerServer(), u.TimeToRecovery, u.RequestsPerServer())
}

// BenchmarkRunOverHTTP is the HTTP case: 1,000 servers through the
// Nova driver and simcloud (in this process: the CPU reported is the
// engine's and the server's together), 32 at once, evacuations of 200 ms
// and API calls of 5 ms, on the wall clock.
func BenchmarkRunOverHTTP(b *testing.B) {
	c := bench.Case{Servers: 1000, Threads: 32, API: 5 * time.Millisecond, Evacuate: 200 * time.Millisecond, HTTP: true, RealTime: true}
	var ratio, perServer, cpu float64
	for b.Loop() {
		r, err := bench.Run(context.Background(), conf.Defaults(), builtin.Register, c)
		if err != nil {
			b.Fatal(err)
		}
		ratio += r.Ratio()
		perServer += r.RequestsPerServer()
		cpu += r.CPU.Seconds()
		b.Logf("ttr %s (ideal %s), %d requests, %d to Keystone, cpu %s; calls %v", r.TimeToRecovery, r.Ideal(), r.Requests, r.Keystone, r.CPU, r.Ops)
	}
	n := float64(b.N)
	b.ReportMetric(ratio/n, "ratio")
	b.ReportMetric(perServer/n, "req/server")
	b.ReportMetric(cpu/n, "cpu-s/run")
}
