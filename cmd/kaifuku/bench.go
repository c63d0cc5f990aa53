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
}

func newBenchCmd() *cobra.Command {
	var o benchOptions
	cmd := &cobra.Command{
		Use:   "bench [--servers 10,100,1000] [--threads 3,32] [--real-time] [--json]",
		Short: "Measure time to recovery of a failed host on the simulated cloud",
		Long: `bench measures how long the host recovery flow (auto) takes: for each number
of servers and each host_failure_recovery_threads, it builds a simulated Nova
with a failed host carrying that many HA-enabled servers and the given
latencies, runs the engine with the built-in tasks on it, and prints

  ttr        time to recovery, from the notification to the end of the flow
  ideal      the wait for Nova to report the host down (--service-down-time)
             plus ceil(servers/threads) evacuations one after another
  ratio      ttr / ideal
  req/srv    calls to Nova per evacuated server
  cpu        the process's CPU time during the run (the simulated cloud's
             included)
  peak-rss   the process's largest resident set so far
  clock      virtual (the default: the dry run's discrete-event clock) or
             wall (--real-time)

The configuration's [DEFAULT] options (verify_interval and the waits) apply;
its host flow must use built-in tasks only.`,
		Example: `  kaifuku bench
  kaifuku bench --servers 100 --threads 32 --service-down-time 0 --real-time`,
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
	f.BoolVar(&o.realTime, "real-time", false, "run on the wall clock instead of in virtual time")
	f.BoolVar(&o.asJSON, "json", false, "print the results as JSON")
	return cmd
}

type benchRow struct {
	Servers           int     `json:"servers"`
	Threads           int     `json:"threads"`
	TTRSeconds        float64 `json:"ttr_seconds"`
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
	if !o.asJSON {
		fmt.Fprintf(stdout, "%7s %7s %10s %10s %6s %7s %8s %9s  %s\n",
			"servers", "threads", "ttr", "ideal", "ratio", "req/srv", "cpu", "peak-rss", "clock")
	}
	var rows []benchRow
	for _, n := range o.servers {
		for _, c := range o.threads {
			r, err := bench.Run(cmd.Context(), cfg, builtin.Register, bench.Case{Servers: n, Threads: c,
				API: o.api, Evacuate: o.evacuate, ServiceDownTime: o.serviceDownTime, RealTime: o.realTime})
			if err != nil {
				return exitCode(2, err)
			}
			row := benchRow{Servers: n, Threads: c, TTRSeconds: r.TimeToRecovery.Seconds(), IdealSeconds: r.Ideal().Seconds(),
				Ratio: r.Ratio(), RequestsPerServer: r.RequestsPerServer(), CPUSeconds: r.CPU.Seconds(),
				PeakRSSBytes: r.PeakRSS, Clock: r.ClockName()}
			rows = append(rows, row)
			if !o.asJSON {
				fmt.Fprintf(stdout, "%7d %7d %9.2fs %9.2fs %6.3f %7.2f %7.3fs %6.0fMiB  %s\n", n, c, row.TTRSeconds,
					row.IdealSeconds, row.Ratio, row.RequestsPerServer, row.CPUSeconds, float64(row.PeakRSSBytes)/(1<<20), row.Clock)
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
