package main

import (
	"encoding/json"
	"fmt"
	"io"
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
}

func newBenchCmd() *cobra.Command {
	var o benchOptions
	cmd := &cobra.Command{
		Use:   "bench [--servers 10,100,1000] [--threads 3,32] [--hosts N] [--real-time] [--json]",
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
  req/srv    calls to Nova per evacuated server
  cpu        the process's CPU time during the run (the simulated cloud's
             included)
  peak-rss   the process's largest resident set so far
  clock      virtual (the default: the dry run's discrete-event clock) or
             wall (--real-time)

With --hosts N, N hosts with that many servers each fail at once and are
recovered together, sharing [compute] max_concurrent_evacuations (the
configuration's, or --max-concurrent-evacuations); "first" is when the first
of them was recovered.

The configuration's [DEFAULT] options (verify_interval and the waits) apply;
its host flow must use built-in tasks only.`,
		Example: `  kaifuku bench
  kaifuku bench --servers 100 --threads 32 --service-down-time 0 --real-time
  kaifuku bench --hosts 10 --servers 100 --threads 32 --max-concurrent-evacuations 32`,
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
	CPUSeconds        float64 `json:"cpu_seconds"`
	PeakRSSBytes      int64   `json:"peak_rss_bytes"`
	Clock             string  `json:"clock"`
}

func runBench(cmd *cobra.Command, stdout io.Writer, o benchOptions) error {
	cfg, err := loadConfig(o.files)
	if err != nil {
		return exitCode(2, err)
	}
	if o.hosts < 1 {
		return exitCode(2, fmt.Errorf("--hosts %d: at least 1", o.hosts))
	}
	bound := o.maxConcurrent
	if bound < 0 {
		bound = cfg.Compute.MaxConcurrentEvacuations
	}
	if !o.asJSON {
		fmt.Fprintf(stdout, "%5s %7s %7s %10s %10s %10s %6s %7s %8s %9s  %s\n",
			"hosts", "servers", "threads", "ttr", "first", "ideal", "ratio", "req/srv", "cpu", "peak-rss", "clock")
	}
	var rows []benchRow
	for _, n := range o.servers {
		for _, c := range o.threads {
			r, err := bench.Run(cmd.Context(), cfg, builtin.Register, bench.Case{Servers: n, Threads: c, Hosts: o.hosts, MaxConcurrent: bound,
				API: o.api, Evacuate: o.evacuate, ServiceDownTime: o.serviceDownTime, RealTime: o.realTime})
			if err != nil {
				return exitCode(2, err)
			}
			row := benchRow{Hosts: o.hosts, Servers: n, Threads: c, TTRSeconds: r.TimeToRecovery.Seconds(), FirstHostSeconds: r.FirstHost.Seconds(), IdealSeconds: r.Ideal().Seconds(),
				Ratio: r.Ratio(), RequestsPerServer: r.RequestsPerServer(), CPUSeconds: r.CPU.Seconds(),
				PeakRSSBytes: r.PeakRSS, Clock: r.ClockName()}
			rows = append(rows, row)
			if !o.asJSON {
				fmt.Fprintf(stdout, "%5d %7d %7d %9.2fs %9.2fs %9.2fs %6.3f %7.2f %7.3fs %6.0fMiB  %s\n", o.hosts, n, c, row.TTRSeconds,
					row.FirstHostSeconds, row.IdealSeconds, row.Ratio, row.RequestsPerServer, row.CPUSeconds, float64(row.PeakRSSBytes)/(1<<20), row.Clock)
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
