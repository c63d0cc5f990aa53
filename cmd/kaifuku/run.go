package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/budget"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
	"github.com/kaifuku-ha/kaifuku/engine/fence"
	"github.com/kaifuku-ha/kaifuku/engine/recovery"
)

var recoveryMethods = []string{recovery.MethodAuto, recovery.MethodReservedHost, recovery.MethodAutoPriority, recovery.MethodRHPriority}

type runOptions struct {
	files        []string
	notification string
	cloud        string
	method       string
	asJSON       bool
	realTime     bool
	logLevel     string
}

func newRunCmd() *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run --notification FILE --cloud FIXTURE [--recovery-method M] [--config-file FILE]... [--json]",
		Short: "Play one notification against the simulated cloud and show the recovery task by task",
		Long: `run plays one notification (Masakari's request body {"notification": {...}})
against a simulated Nova cloud loaded from a fixture, with the configured
recovery flows, the built-in tasks and the operator's Lua scripts, and prints
a timeline: each task, its state, its duration and its progress messages, then
the final notification status and the cloud's servers and services.

The notification goes through the same decisions as in the daemon: host_status
checks, valid VM event pairs, process rules, maintenance, the recovery method
and its fallback. The segment is the fixture's cloud: hosts with
"reserved": true are its reserved hosts, in fixture order.

By default the run happens in virtual time: the simulated cloud's latencies,
Nova's service_down_time and the tasks' polling pass instantly, and durations
are virtual. The virtual clock advances only when every part of the run is
waiting, so parallel evacuations overlap as they do on the wall clock, and
the same notification and fixture give the same timeline on every run.
--real-time plays it on the wall clock.

Only the cloud is simulated. Lua tasks use their real modules: http posts to
the hosts of [lua] http_allowed_hosts and smtp mails through [smtp], as in
the daemon, so a run with a production configuration really calls webhooks
and sends mails. kaifuku test runs tasks and flows against fakes instead.

Exit codes: 0 the notification ended finished or ignored; 1 it ended in
error; 2 bad usage, configuration, fixture or notification.`,
		Example: `  kaifuku run --notification conf/examples/notifications/host-failure.json --cloud conf/examples/cloud.json
  kaifuku run --notification conf/examples/notifications/host-failure.json --cloud conf/examples/cloud.json --recovery-method reserved_host --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runNotification(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	configFlags(cmd, &o.files)
	f := cmd.Flags()
	f.StringVar(&o.notification, "notification", "", "notification request body (JSON file) (required)")
	f.StringVar(&o.cloud, "cloud", "", "simulated cloud fixture (JSON file) (required)")
	f.StringVar(&o.method, "recovery-method", recovery.MethodAuto, "the segment's recovery method: auto, reserved_host, auto_priority or rh_priority")
	f.BoolVar(&o.asJSON, "json", false, "print one JSON object instead of the timeline")
	f.BoolVar(&o.realTime, "real-time", false, "run on the wall clock instead of virtual time")
	f.StringVar(&o.logLevel, "log-level", "warning", "log level on stderr: debug, info, warning or error")
	return cmd
}

type runReport struct {
	Status           string             `json:"status"`
	Message          string             `json:"message,omitempty"`
	Interrupted      bool               `json:"interrupted,omitempty"`
	NotificationUUID string             `json:"notification_uuid"`
	Type             string             `json:"type"`
	Hostname         string             `json:"hostname"`
	RecoveryMethod   string             `json:"recovery_method"`
	Flows            []string           `json:"flows"`
	DurationSeconds  float64            `json:"duration_seconds"`
	VirtualTime      bool               `json:"virtual_time"`
	Tasks            []runTask          `json:"tasks"`
	Cloud            simulated.Snapshot `json:"cloud"`
	Maintenance      []string           `json:"hosts_on_maintenance"`
}

type runTask struct {
	Name            string          `json:"name"`
	Atom            string          `json:"atom"`
	Flow            string          `json:"flow"`
	Phase           string          `json:"phase"`
	State           string          `json:"state"`
	Progress        float64         `json:"progress"`
	DurationSeconds float64         `json:"duration_seconds"`
	Error           string          `json:"error,omitempty"`
	ProgressDetails []runProgressJS `json:"progress_details"`
}

type runProgressJS struct {
	Timestamp string  `json:"timestamp"`
	Progress  float64 `json:"progress"`
	Message   string  `json:"message"`
}

func runNotification(ctx context.Context, stdout, stderr io.Writer, o runOptions) error {
	if o.notification == "" || o.cloud == "" {
		return exitCode(2, errors.New("run needs --notification FILE and --cloud FIXTURE (see kaifuku run --help)"))
	}
	if !slices.Contains(recoveryMethods, o.method) {
		return exitCode(2, fmt.Errorf("--recovery-method %q is not one of auto, reserved_host, auto_priority, rh_priority", o.method))
	}
	level, err := logrus.ParseLevel(o.logLevel)
	if err != nil {
		return exitCode(2, fmt.Errorf("--log-level %q is not one of debug, info, warning, error", o.logLevel))
	}
	log := logrus.New()
	log.SetOutput(stderr)
	log.SetLevel(level)

	body, err := os.ReadFile(o.notification)
	if err != nil {
		return exitCode(2, fmt.Errorf("notification: %w", err))
	}
	n, err := recovery.ParseNotification(body)
	if err != nil {
		return exitCode(2, fmt.Errorf("%s: %w", o.notification, err))
	}
	n.UUID = uuid.NewString()
	fixture, err := simulated.LoadFixture(o.cloud)
	if err != nil {
		return exitCode(2, err)
	}
	var clk clock.Clock = clock.Real{}
	if !o.realTime {
		clk = clock.NewSim(time.Now().UTC().Truncate(time.Second))
	}
	cloud, err := simulated.New(fixture, clk)
	if err != nil {
		return exitCode(2, fmt.Errorf("%s: %w", o.cloud, err))
	}
	// The segment is the fixture's cloud: its reserved hosts, in fixture
	// order, and the recovery method given.
	segment := recovery.NewMemorySegment(o.method)
	known := false
	for _, h := range fixture.Hosts {
		segment.AddHost(h.Name, h.Reserved)
		known = known || h.Name == n.Hostname
	}
	if !known {
		return exitCode(2, fmt.Errorf("%s: hostname %q is not a host of the cloud fixture %s", o.notification, n.Hostname, o.cloud))
	}

	// A host failure notification means the host died: where the fixture
	// still has it running, it fails now, and Nova notices after its
	// service_down_time, as on a real cloud.
	if n.Type == recovery.TypeComputeHost && strings.EqualFold(n.Payload["event"], "STOPPED") {
		for _, sv := range cloud.Snapshot().Services {
			if sv.Host == n.Hostname && sv.State == "up" && !hostFailed(fixture, n.Hostname) {
				if err := cloud.FailHost(n.Hostname); err != nil {
					return exitCode(2, err)
				}
				if !o.asJSON {
					fmt.Fprintf(stdout, "host %s is up in the fixture: failing it now (Nova reports it down after its service_down_time)\n", n.Hostname)
				}
			}
		}
	}

	cfg, err := loadConfig(o.files)
	if err != nil {
		return exitCode(2, err)
	}
	// [compute]'s request budget on the run's clock; the simulated cloud's
	// BMCs stay visible to fence_host_task.
	var engineCloud compute.Cloud = cloud
	if r := cfg.Compute.MaxRequestsPerSecond; r > 0 {
		engineCloud = struct {
			compute.Cloud
			fence.Devices
		}{budget.Limit(cloud, clk, float64(r)), cloud}
	}
	s, err := buildSetup(cfg, engineParts{Cloud: engineCloud, Log: log})
	if err != nil {
		return exitCode(2, err)
	}

	start := clk.Now()
	tl := &timeline{w: stdout, start: start, clk: clk}
	runner := &engine.Runner{Clock: clk, Log: log}
	if !o.asJSON {
		runner.Listener = tl
		mode := "virtual time"
		if o.realTime {
			mode = "real time"
		}
		fmt.Fprintf(stdout, "%s notification %s for host %s (recovery method %s, %s)\n", n.Type, n.UUID, n.Hostname, o.method, mode)
	}
	mgr := &recovery.Manager{Runner: runner, Flows: s.Flows, Claims: engine.NewLocalClaims(), VMoves: &engine.MemoryVMoves{},
		ServerLocks: engine.NewLocalServerLocks(), Unlocker: cloud, Evacuations: budget.NewSlots(clk, cfg.Compute.MaxConcurrentEvacuations)}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	out := mgr.Recover(ctx, recovery.Job{Notification: n}, segment)

	rep := runReport{Status: out.Status, Message: out.Message, Interrupted: out.Interrupted, NotificationUUID: n.UUID, Type: n.Type, Hostname: n.Hostname,
		RecoveryMethod: o.method, Flows: []string{}, Tasks: []runTask{}, DurationSeconds: clk.Now().Sub(start).Seconds(),
		VirtualTime: !o.realTime, Cloud: cloud.Snapshot(), Maintenance: append([]string{}, segment.OnMaintenance()...)}
	for _, r := range out.Runs {
		rep.Flows = append(rep.Flows, string(r.Flow))
		for _, t := range r.Result.Tasks {
			rt := runTask{Name: t.Name, Atom: t.Atom, Flow: string(r.Flow), Phase: t.Phase, State: t.State, Progress: t.Progress,
				Error: t.Error, ProgressDetails: []runProgressJS{}}
			if !t.Ended.IsZero() {
				rt.DurationSeconds = t.Ended.Sub(t.Started).Seconds()
			}
			for _, d := range t.Details {
				rt.ProgressDetails = append(rt.ProgressDetails, runProgressJS{Timestamp: engine.FormatTimestamp(d.Timestamp), Progress: d.Progress, Message: d.Message})
			}
			rep.Tasks = append(rep.Tasks, rt)
		}
	}
	if o.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printRunSummary(stdout, rep)
	}
	if out.Status == engine.StatusError {
		return exitCode(1, errors.New(""))
	}
	return nil
}

// timeline prints run events as they happen.
type timeline struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
	clk   clock.Clock
}

func (t *timeline) OnEvent(e engine.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	at := fmt.Sprintf("%+9.3fs", t.clk.Now().Sub(t.start).Seconds())
	where := fmt.Sprintf("%-9s %-4s", e.Flow, e.Phase)
	if e.AttemptItem != "" && e.Phase == conf.Main {
		where += " @" + e.AttemptItem
	}
	switch e.Type {
	case engine.TaskStarted:
		fmt.Fprintf(t.w, "%s  %s  %s  started\n", at, where, e.Task)
	case engine.TaskProgress:
		fmt.Fprintf(t.w, "%s  %s  %s  [%s] %s\n", at, where, e.Task, strconv.FormatFloat(e.Entry.Progress, 'f', 1, 64), e.Entry.Message)
	case engine.TaskSucceeded:
		fmt.Fprintf(t.w, "%s  %s  %s  %s in %s\n", at, where, e.Task, e.Record.State, e.Duration.Round(time.Millisecond))
		if e.Err != nil {
			fmt.Fprintf(t.w, "%s  %s  %s  ended the flow early: %v\n", at, where, e.Task, e.Err)
		}
	case engine.TaskFailed:
		fmt.Fprintf(t.w, "%s  %s  %s  FAILURE after %s: %v\n", at, where, e.Task, e.Duration.Round(time.Millisecond), e.Err)
	case engine.TaskReverted:
		if e.Err != nil {
			fmt.Fprintf(t.w, "%s  %s  %s  REVERT_FAILURE: %v\n", at, where, e.Task, e.Err)
		} else {
			fmt.Fprintf(t.w, "%s  %s  %s  REVERTED\n", at, where, e.Task)
		}
	case engine.FlowFinished:
		fmt.Fprintf(t.w, "%s  %-14s flow finished: %s\n", at, e.Flow, e.Status)
	}
}

func printRunSummary(w io.Writer, r runReport) {
	fmt.Fprintf(w, "\nstatus: %s", r.Status)
	if r.Message != "" {
		fmt.Fprintf(w, " (%s)", r.Message)
	}
	if r.Interrupted {
		fmt.Fprint(w, "\ninterrupted: the run was stopped, nothing was reverted")
	}
	fmt.Fprintf(w, "\nduration: %.3fs", r.DurationSeconds)
	if r.VirtualTime {
		fmt.Fprint(w, " of virtual time")
	}
	fmt.Fprintln(w)
	if len(r.Maintenance) > 0 {
		fmt.Fprintf(w, "hosts on maintenance: %v\n", r.Maintenance)
	}
	fmt.Fprintln(w, "\nservers:")
	for _, s := range r.Cloud.Servers {
		lock := ""
		if s.Locked {
			lock = " locked"
		}
		fmt.Fprintf(w, "  %-36s %-10s %-10s %s%s\n", s.ID, s.Name, s.Host, s.VMState, lock)
	}
	fmt.Fprintln(w, "services:")
	for _, s := range r.Cloud.Services {
		fmt.Fprintf(w, "  %-10s %-9s %s\n", s.Host, s.Status, s.State)
	}
}

func hostFailed(f simulated.Fixture, name string) bool {
	for _, h := range f.Hosts {
		if h.Name == name {
			return h.Failed
		}
	}
	return false
}
