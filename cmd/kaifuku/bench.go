package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/kaifuku-ha/kaifuku/builtin"
	"github.com/kaifuku-ha/kaifuku/engine/bench"
)

type benchOptions struct {
	files           []string
	servers         []int
	threads         []int
	api, evacuate   time.Duration
	serviceDownTime time.Duration
	realTime        bool
	asJSON          bool
	hosts           int
	maxConcurrent   int
	http            bool
	// simcloud is the kaifuku binary that serves the cloud with --http.
	simcloud func() (string, error)
}

func newBenchCmd() *cobra.Command {
	o := benchOptions{simcloud: os.Executable}
	cmd := &cobra.Command{
		Use:   "bench [--servers 10,100,1000] [--threads 3,32] [--hosts N] [--real-time [--http]] [--json]",
		Short: "Measure time to recovery of a failed host on the simulated cloud",
		Long: `bench measures how long the host recovery flow (auto) takes: for each number
of servers and each host_failure_recovery_threads, it builds a simulated Nova
with a failed host carrying that many HA-enabled servers and the given
latencies, runs the engine with the built-in tasks on it, and prints

  ttr        time to recovery, from the notification to the end of the flow
  ideal      the wait for Nova to report the host down (--service-down-time)
             plus ceil(servers/threads) evacuations one after another, or
             with --hosts and a bound across them, ceil(hosts × servers /
             bound) when that is more
  ratio      ttr / ideal
  req/srv    calls to Nova per evacuated server; with --http, the requests
             simcloud received on its compute API (refused ones included),
             Keystone's not
  keystone   with --http, the requests to simcloud's Keystone (the driver's
             login, and any login again); "-" without
  cpu        this process's CPU time during the run: the engine's, and
             without --http the simulated cloud's too (it runs in the same
             process); with --http the engine's and its Nova driver's alone
  cloud-cpu  with --http, the CPU time of the simcloud process over its
             life (start-up and loading the fixture included); "-" without
  peak-rss   this process's largest resident set so far
  clock      virtual (the default: the dry run's discrete-event clock) or
             wall (--real-time)

With --http, the engine drives the cloud through the Nova driver, as with
[compute] driver = nova, and the cloud is served over HTTP by a
"kaifuku simcloud" process (this binary) on a free loopback port, with its
Keystone: the driver logs in, then every call is a real HTTP request
between the two processes. simcloud runs on the wall clock, so --http
needs --real-time (it is refused without, rather than silently changing
the clock); the clock column says wall.

With --hosts N, N hosts with that many servers each fail at once and are
recovered together, sharing [compute] max_concurrent_evacuations (the
configuration's, or --max-concurrent-evacuations); "first" is when the first
of them was recovered.

The configuration's [DEFAULT] options (verify_interval and the waits) apply;
its host flow must use built-in tasks only.`,
		Example: `  kaifuku bench
  kaifuku bench --servers 100 --threads 32 --service-down-time 0 --real-time
  kaifuku bench --hosts 10 --servers 100 --threads 32 --max-concurrent-evacuations 32
  kaifuku bench --http --real-time --servers 1000 --threads 32 --api-latency 5ms --evacuation 200ms --service-down-time 0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBench(cmd, cmd.OutOrStdout(), o)
		},
	}
	configFlags(cmd, &o.files)
	f := cmd.Flags()
	f.IntSliceVar(&o.servers, "servers", []int{10, 100, 1000}, "numbers of servers on the failed host")
	f.IntSliceVar(&o.threads, "threads", []int{3, 32}, "values of host_failure_recovery_threads")
	f.DurationVar(&o.api, "api-latency", 20*time.Millisecond, "latency of every Nova API call")
	f.DurationVar(&o.evacuate, "evacuation", 2*time.Second, "how long Nova takes to evacuate a server")
	f.DurationVar(&o.serviceDownTime, "service-down-time", 60*time.Second,
		"Nova's service_down_time: how long after the failure it reports the host down (whole seconds; 0: down already)")
	f.IntVar(&o.hosts, "hosts", 1, "failed hosts recovered at once, each with --servers servers")
	f.IntVar(&o.maxConcurrent, "max-concurrent-evacuations", -1, "[compute] max_concurrent_evacuations (default: the configuration's; 0: no bound)")
	f.BoolVar(&o.realTime, "real-time", false, "run on the wall clock instead of in virtual time")
	f.BoolVar(&o.http, "http", false, "drive the cloud through the Nova driver and a kaifuku simcloud process over HTTP (needs --real-time)")
	f.BoolVar(&o.asJSON, "json", false, "print the results as JSON")
	return cmd
}

type benchRow struct {
	Hosts             int     `json:"hosts"`
	Servers           int     `json:"servers"`
	Threads           int     `json:"threads"`
	TTRSeconds        float64 `json:"ttr_seconds"`
	FirstHostSeconds  float64 `json:"first_host_seconds"`
	IdealSeconds      float64 `json:"ideal_seconds"`
	Ratio             float64 `json:"ratio"`
	RequestsPerServer float64 `json:"requests_per_server"`
	// KeystoneRequests and CloudCPUSeconds are set with --http only.
	KeystoneRequests int      `json:"keystone_requests,omitempty"`
	CPUSeconds       float64  `json:"cpu_seconds"`
	CloudCPUSeconds  *float64 `json:"cloud_cpu_seconds,omitempty"`
	PeakRSSBytes     int64    `json:"peak_rss_bytes"`
	Clock            string   `json:"clock"`
	HTTP             bool     `json:"http"`
}

func runBench(cmd *cobra.Command, stdout io.Writer, o benchOptions) error {
	cfg, err := loadConfig(o.files)
	if err != nil {
		return exitCode(2, err)
	}
	if o.hosts < 1 {
		return exitCode(2, fmt.Errorf("--hosts %d: at least 1", o.hosts))
	}
	if o.http && !o.realTime {
		return exitCode(2, errors.New("--http needs --real-time: simcloud serves on the wall clock"))
	}
	var simcloud string
	if o.http {
		if simcloud, err = o.simcloud(); err != nil {
			return exitCode(2, fmt.Errorf("--http: the kaifuku binary to run simcloud from: %w", err))
		}
	}
	bound := o.maxConcurrent
	if bound < 0 {
		bound = cfg.Compute.MaxConcurrentEvacuations
	}
	if !o.asJSON {
		fmt.Fprintf(stdout, "%5s %7s %7s %10s %10s %10s %6s %7s %8s %8s %9s %9s  %s\n",
			"hosts", "servers", "threads", "ttr", "first", "ideal", "ratio", "req/srv", "keystone", "cpu", "cloud-cpu", "peak-rss", "clock")
	}
	var rows []benchRow
	for _, n := range o.servers {
		for _, c := range o.threads {
			r, err := bench.Run(cmd.Context(), cfg, builtin.Register, bench.Case{Servers: n, Threads: c, Hosts: o.hosts, MaxConcurrent: bound,
				API: o.api, Evacuate: o.evacuate, ServiceDownTime: o.serviceDownTime, RealTime: o.realTime, HTTP: o.http, Simcloud: simcloud})
			if err != nil {
				return exitCode(2, err)
			}
			row := benchRow{Hosts: o.hosts, Servers: n, Threads: c, TTRSeconds: r.TimeToRecovery.Seconds(), FirstHostSeconds: r.FirstHost.Seconds(), IdealSeconds: r.Ideal().Seconds(),
				Ratio: r.Ratio(), RequestsPerServer: r.RequestsPerServer(), CPUSeconds: r.CPU.Seconds(),
				PeakRSSBytes: r.PeakRSS, Clock: r.ClockName(), HTTP: r.HTTP}
			keystone, cloudCPU := "-", "-"
			if r.HTTP {
				row.KeystoneRequests, keystone = r.Keystone, fmt.Sprint(r.Keystone)
			}
			if r.CloudApart {
				s := r.CloudCPU.Seconds()
				row.CloudCPUSeconds, cloudCPU = &s, fmt.Sprintf("%.3fs", s)
			}
			rows = append(rows, row)
			if !o.asJSON {
				fmt.Fprintf(stdout, "%5d %7d %7d %9.2fs %9.2fs %9.2fs %6.3f %7.2f %8s %7.3fs %9s %6.0fMiB  %s\n", o.hosts, n, c, row.TTRSeconds,
					row.FirstHostSeconds, row.IdealSeconds, row.Ratio, row.RequestsPerServer, keystone, row.CPUSeconds, cloudCPU,
					float64(row.PeakRSSBytes)/(1<<20), row.Clock)
			}
		}
	}
	if o.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	return nil
}
