// Package bench measures time to recovery: it builds a simulated cloud with
// one or several failed hosts carrying N servers each and Nova-like
// latencies, runs their host recovery flows at once on it with the real
// engine and the tasks it is given, and compares the time taken with the
// ideal one. The engine drives the cloud directly, or (Case.HTTP) through
// the Nova driver and simcloud over HTTP, simcloud in this process or in a
// `kaifuku simcloud` process of its own.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/budget"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
)

// Register adds the recovery tasks, driving nova, to reg: the composition
// root passes the built-in tasks' registrar.
type Register func(reg *engine.Registry, nova compute.Cloud, cfg *conf.Config)

// Case is one measurement.
type Case struct {
	Servers int // on each failed host, all HA-enabled and active
	Threads int // host_failure_recovery_threads
	// Hosts is the number of failed hosts, recovered at once (0: one).
	Hosts int
	// MaxConcurrent is [compute] max_concurrent_evacuations, the bound
	// across hosts (0: none).
	MaxConcurrent int
	// Latencies of the simulated Nova.
	API, Evacuate time.Duration
	// ServiceDownTime is how long after the failure Nova reports the host
	// down (its service_down_time); 0: it is reported down already.
	ServiceDownTime time.Duration
	// RealTime runs on the wall clock; otherwise on the discrete-event
	// clock, in virtual time.
	RealTime bool
	// HTTP serves the cloud over HTTP with simcloud on a loopback listener
	// and drives it with the Nova driver, logged in through simcloud's
	// Keystone. simcloud runs on the wall clock: HTTP needs RealTime.
	HTTP bool
	// Simcloud, with HTTP, is a kaifuku binary: `Simcloud simcloud` serves
	// the cloud in a process of its own, so that the requests cross
	// processes and CPU is the engine's alone. Empty: simcloud is served
	// in this process.
	Simcloud string
}

// Ideal is the time to recovery if the engine cost nothing: the wait for
// Nova to report the hosts down, then ceil(servers/threads) evacuations one
// after another, or with a bound across hosts, ceil(hosts × servers /
// bound) when that is more.
func (c Case) Ideal() time.Duration {
	rounds := (c.Servers + c.Threads - 1) / c.Threads
	if m := c.MaxConcurrent; m > 0 {
		rounds = max(rounds, (c.hosts()*c.Servers+m-1)/m)
	}
	return c.ServiceDownTime + time.Duration(rounds)*c.Evacuate
}

func (c Case) hosts() int { return max(c.Hosts, 1) }

// Result is what one case measured.
type Result struct {
	Case
	// TimeToRecovery is from the notifications to the end of the last
	// flow, on the clock the case ran on; FirstHost is to the end of the
	// first (equal when hosts share Nova fairly and the bound is reached).
	TimeToRecovery, FirstHost time.Duration
	// Hosts is each failed host's time to recovery, in host order.
	HostTimes []time.Duration
	// Requests is the number of calls to Nova; Ops, per operation. Over
	// HTTP, Requests is what simcloud received on its compute API
	// (refused requests and version documents included; Keystone's and
	// the bench's own reads of /sim/ not), and Ops what the cloud behind
	// it counted.
	Requests int
	Ops      map[string]int
	// Keystone is, over HTTP, the requests simcloud's Keystone received:
	// the driver's login, and any login again.
	Keystone int
	// Placement is the host of each server at the end, by server id.
	Placement map[string]string
	// CPU is this process's user and system time during the run: the
	// engine's, with the Nova driver's over HTTP, and the simulated
	// cloud's too unless it ran in a process of its own (CloudApart).
	CPU time.Duration
	// CloudCPU is, when CloudApart, the simcloud process's user and
	// system time over its life (start-up and fixture loading included).
	CloudCPU   time.Duration
	CloudApart bool
	// PeakRSS is the process's largest resident set so far, in bytes (0
	// where the platform does not tell).
	PeakRSS int64
}

// Ratio is the time to recovery over the ideal.
func (r Result) Ratio() float64 {
	if r.Ideal() <= 0 {
		return 0
	}
	return r.TimeToRecovery.Seconds() / r.Ideal().Seconds()
}

// RequestsPerServer is the calls to Nova per evacuated server.
func (r Result) RequestsPerServer() float64 {
	if r.Servers == 0 {
		return 0
	}
	return float64(r.Requests) / float64(r.Servers*r.hosts())
}

// ClockName says which clock the case ran on.
func (r Result) ClockName() string {
	if r.RealTime {
		return "wall"
	}
	return "virtual"
}

// failedHost is the name of failed host i (from 1).
func failedHost(i int) string { return fmt.Sprintf("compute%d", i) }

// spareHost takes the evacuated servers; it has room for all.
const spareHost = "spare"

// fixture is the failed hosts with their servers and one host to evacuate
// them to.
func (c Case) fixture() simulated.Fixture {
	fx := simulated.Fixture{
		Hosts:   []simulated.Host{{Name: spareHost, Aggregates: []string{"agg1"}}},
		Latency: simulated.Latency{API: int(c.API / time.Millisecond), Evacuate: int(c.Evacuate / time.Millisecond)},
	}
	if c.ServiceDownTime > 0 {
		fx.ServiceDownTime = int(c.ServiceDownTime / time.Second)
	}
	for h := 1; h <= c.hosts(); h++ {
		host := simulated.Host{Name: failedHost(h), Aggregates: []string{"agg1"}}
		if c.ServiceDownTime > 0 {
			host.Failed = true
		} else {
			host.State = "down"
		}
		fx.Hosts = append(fx.Hosts, host)
		for i := 1; i <= c.Servers; i++ {
			fx.Servers = append(fx.Servers, simulated.Server{
				ID: fmt.Sprintf("00000000-0000-4000-8%03d-%012d", h, i), Name: fmt.Sprintf("vm%d-%d", h, i), Host: failedHost(h),
				Metadata: map[string]string{"HA_Enabled": "True"}})
		}
	}
	return fx
}

// Run measures one case: the default host flow (auto) of cfg for every
// failed host at once, with host_failure_recovery_threads and
// max_concurrent_evacuations set to the case's, on a fresh cloud.
func Run(ctx context.Context, cfg *conf.Config, register Register, c Case) (Result, error) {
	if c.Servers < 1 || c.Threads < 1 || c.Hosts < 0 || c.MaxConcurrent < 0 {
		return Result{}, fmt.Errorf("bench: servers (%d) and threads (%d) must be at least 1, hosts (%d) and the bound (%d) at least 0",
			c.Servers, c.Threads, c.Hosts, c.MaxConcurrent)
	}
	if c.ServiceDownTime%time.Second != 0 {
		return Result{}, fmt.Errorf("bench: service_down_time %s is not whole seconds", c.ServiceDownTime)
	}
	if c.HTTP && !c.RealTime {
		return Result{}, errors.New("bench: HTTP needs RealTime: simcloud serves on the wall clock")
	}
	if c.Simcloud != "" && !c.HTTP {
		return Result{}, fmt.Errorf("bench: a simcloud binary (%s) is for HTTP only", c.Simcloud)
	}
	run := runDirect
	if c.HTTP {
		run = runHTTP
	}
	r, err := run(ctx, cfg, register, c)
	if err != nil {
		return Result{}, fmt.Errorf("bench: %w", err)
	}
	return r, nil
}

// runDirect measures c with the engine driving the simulated cloud itself.
func runDirect(ctx context.Context, cfg *conf.Config, register Register, c Case) (Result, error) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var clk clock.Clock = clock.NewSim(start)
	if c.RealTime {
		clk = clock.Real{}
	}
	cloud, err := simulated.New(c.fixture(), clk)
	if err != nil {
		return Result{}, fmt.Errorf("cloud: %w", err)
	}
	r, err := measure(ctx, cfg, register, c, clk, cloud)
	if err != nil {
		return Result{}, err
	}
	k := cloud.Counters()
	r.Requests, r.Ops = requests(k), k.Ops
	r.Placement = map[string]string{}
	for _, s := range cloud.Snapshot().Servers {
		r.Placement[s.ID] = s.Host
	}
	return r, r.allOnSpare()
}

// runHTTP measures c with the engine driving simcloud through the Nova
// driver, on the wall clock.
func runHTTP(ctx context.Context, cfg *conf.Config, register Register, c Case) (r Result, err error) {
	var srv *served
	if c.Simcloud != "" {
		srv, err = serveProcess(ctx, c.Simcloud, c.fixture())
	} else {
		srv, err = serveInProcess(c.fixture())
	}
	if err != nil {
		return Result{}, err
	}
	defer func() {
		cpu, serr := srv.stop()
		if err == nil && serr != nil {
			r, err = Result{}, serr
		}
		r.CloudCPU, r.CloudApart = cpu, srv.apart
	}()
	driver, err := srv.driver(ctx, cfg.Nova.Timeout)
	if err != nil {
		return Result{}, err
	}
	// Before simcloud stops (deferred earlier, run later): its graceful
	// shutdown waits for connections that never carried a request.
	defer driver.Close()
	if r, err = measure(ctx, cfg, register, c, clock.Real{}, driver); err != nil {
		return Result{}, err
	}
	k, err := srv.counts(ctx)
	if err != nil {
		return Result{}, err
	}
	r.Requests, r.Keystone, r.Ops = k.nova, k.keystone, k.ops
	if r.Placement, err = srv.placement(ctx); err != nil {
		return Result{}, err
	}
	return r, r.allOnSpare()
}

// measure runs the host flows of c on cloud, timed on clk; the result
// lacks what only the cloud can tell (requests, placement).
func measure(ctx context.Context, cfg *conf.Config, register Register, c Case, clk clock.Clock, cloud compute.Cloud) (Result, error) {
	cc := *cfg
	cc.Engine.HostFailureRecoveryThreads = c.Threads
	reg := engine.NewRegistry()
	register(reg, cloud, &cc)
	flow, err := engine.Build(reg, &cc, conf.FlowHostAuto)
	if err != nil {
		return Result{}, fmt.Errorf("build the host flow: %w", err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	runner := &engine.Runner{Clock: clk, Log: log}
	slots := budget.NewSlots(clk, c.MaxConcurrent)
	claims := engine.NewLocalClaims()

	cpu0 := cpuTime()
	began := clk.Now()
	// The hosts' recoveries run at once, as an engine's workers run them; a
	// clock.Group, so that on the virtual clock they overlap in time.
	g := clock.NewGroup(clk, c.hosts())
	results := make([]engine.Result, c.hosts())
	ends := make([]time.Duration, c.hosts())
	for h := range c.hosts() {
		id := fmt.Sprintf("00000000-0000-4000-8000-b%011d", h+1)
		req := engine.Request{NotificationUUID: id, Flow: flow, Claims: claims, Evacuations: slots,
			Store: engine.Store{engine.KeyHostName: failedHost(h + 1), engine.KeyNotificationUUID: id}}
		if err := g.Go(ctx, func() {
			results[h] = runner.Run(ctx, req)
			ends[h] = clk.Now().Sub(began)
		}); err != nil {
			return Result{}, err
		}
	}
	g.Wait()
	ttr := clk.Now().Sub(began)
	cpu := cpuTime() - cpu0
	for h, res := range results {
		if res.Status != engine.StatusFinished {
			return Result{}, fmt.Errorf("the host flow of %s ended %s: %v", failedHost(h+1), res.Status, res.Err)
		}
	}
	return Result{Case: c, TimeToRecovery: ttr, FirstHost: slices.Min(ends), HostTimes: ends, CPU: cpu, PeakRSS: peakRSS()}, nil
}

// allOnSpare fails unless every server of the placement is on the spare
// host.
func (r Result) allOnSpare() error {
	ids := slices.Sorted(maps.Keys(r.Placement))
	for _, id := range ids {
		if h := r.Placement[id]; h != spareHost {
			return fmt.Errorf("server %s still on the failed host %s", id, h)
		}
	}
	return nil
}

// requests sums the calls the cloud received. A service update is counted
// once more per kind of change it asks for: those are left out.
func requests(k simulated.Counters) int {
	n := 0
	for op, v := range k.Ops {
		switch op {
		case "disable_service", "enable_service", "force_down", "force_up":
		default:
			n += v
		}
	}
	return n
}
