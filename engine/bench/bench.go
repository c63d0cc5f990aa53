// Package bench measures time to recovery: it builds a simulated cloud with a
// failed host carrying N servers and Nova-like latencies, runs the host
// recovery flow on it with the real engine and the tasks it is given, and
// compares the time taken with the ideal one.
package bench

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
)

// Register adds the recovery tasks, driving nova, to reg: the composition
// root passes the built-in tasks' registrar.
type Register func(reg *engine.Registry, nova compute.Cloud, cfg *conf.Config)

// Case is one measurement.
type Case struct {
	Servers int // on the failed host, all HA-enabled and active
	Threads int // host_failure_recovery_threads
	// Latencies of the simulated Nova.
	API, Evacuate time.Duration
	// ServiceDownTime is how long after the failure Nova reports the host
	// down (its service_down_time); 0: it is reported down already.
	ServiceDownTime time.Duration
	// RealTime runs on the wall clock; otherwise on the discrete-event
	// clock, in virtual time.
	RealTime bool
}

// Ideal is the time to recovery if the engine cost nothing: the wait for
// Nova to report the host down, then ceil(servers/threads) evacuations one
// after another.
func (c Case) Ideal() time.Duration {
	rounds := (c.Servers + c.Threads - 1) / c.Threads
	return c.ServiceDownTime + time.Duration(rounds)*c.Evacuate
}

// Result is what one case measured.
type Result struct {
	Case
	// TimeToRecovery is from the notification to the end of the flow, on the
	// clock the case ran on.
	TimeToRecovery time.Duration
	// Requests is the number of calls to Nova.
	Requests int
	// CPU is the process's user and system time during the run (the
	// simulated cloud's included: it runs in the same process).
	CPU time.Duration
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
	return float64(r.Requests) / float64(r.Servers)
}

// ClockName says which clock the case ran on.
func (r Result) ClockName() string {
	if r.RealTime {
		return "wall"
	}
	return "virtual"
}

const failedHost = "compute1"

// fixture is a failed host with the servers, one host to evacuate them to,
// with room for all.
func (c Case) fixture() simulated.Fixture {
	fx := simulated.Fixture{
		Hosts: []simulated.Host{
			{Name: failedHost, Aggregates: []string{"agg1"}},
			{Name: "compute2", Aggregates: []string{"agg1"}},
		},
		Latency: simulated.Latency{API: int(c.API / time.Millisecond), Evacuate: int(c.Evacuate / time.Millisecond)},
	}
	if c.ServiceDownTime > 0 {
		fx.Hosts[0].Failed = true
		fx.ServiceDownTime = int(c.ServiceDownTime / time.Second)
	} else {
		fx.Hosts[0].State = "down"
	}
	for i := 1; i <= c.Servers; i++ {
		fx.Servers = append(fx.Servers, simulated.Server{
			ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Name: fmt.Sprintf("vm%d", i), Host: failedHost,
			Metadata: map[string]string{"HA_Enabled": "True"}})
	}
	return fx
}

// Run measures one case: the default host flow (auto) of cfg, with
// host_failure_recovery_threads set to the case's, on a fresh cloud.
func Run(ctx context.Context, cfg *conf.Config, register Register, c Case) (Result, error) {
	if c.Servers < 1 || c.Threads < 1 {
		return Result{}, fmt.Errorf("bench: servers (%d) and threads (%d) must be at least 1", c.Servers, c.Threads)
	}
	if c.ServiceDownTime%time.Second != 0 {
		return Result{}, fmt.Errorf("bench: service_down_time %s is not whole seconds", c.ServiceDownTime)
	}
	cc := *cfg
	cc.Engine.HostFailureRecoveryThreads = c.Threads
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var clk clock.Clock = clock.NewSim(start)
	if c.RealTime {
		clk = clock.Real{}
	}
	cloud, err := simulated.New(c.fixture(), clk)
	if err != nil {
		return Result{}, fmt.Errorf("bench: cloud: %w", err)
	}
	reg := engine.NewRegistry()
	register(reg, cloud, &cc)
	flow, err := engine.Build(reg, &cc, conf.FlowHostAuto)
	if err != nil {
		return Result{}, fmt.Errorf("bench: build the host flow: %w", err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	runner := &engine.Runner{Clock: clk, Log: log}
	req := engine.Request{NotificationUUID: "00000000-0000-4000-8000-b0000000000b", Flow: flow, Claims: engine.NewLocalClaims(),
		Store: engine.Store{engine.KeyHostName: failedHost, "notification_uuid": "00000000-0000-4000-8000-b0000000000b"}}

	cpu0 := cpuTime()
	began := clk.Now()
	res := runner.Run(ctx, req)
	ttr := clk.Now().Sub(began)
	cpu := cpuTime() - cpu0
	if res.Status != engine.StatusFinished {
		return Result{}, fmt.Errorf("bench: the host flow ended %s: %v", res.Status, res.Err)
	}
	for _, s := range cloud.Snapshot().Servers {
		if s.Host == failedHost {
			return Result{}, fmt.Errorf("bench: server %s still on the failed host", s.ID)
		}
	}
	return Result{Case: c, TimeToRecovery: ttr, Requests: requests(cloud.Counters()), CPU: cpu, PeakRSS: peakRSS()}, nil
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
