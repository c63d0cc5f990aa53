// Package harness runs recovery tasks and whole recovery flows the way the
// daemon does, but on fakes: the simulated cloud, canned HTTP responses, a
// recording mailer, a fake clock and a logger of its own per run. It is to
// kaifuku's tasks what net/http/httptest is to handlers: Go tests use it
// directly, and `kaifuku test` exposes it to Lua tests as the harness global.
package harness

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
	"github.com/kaifuku-ha/kaifuku/engine/recovery"
	"github.com/kaifuku-ha/kaifuku/engine/script"
)

// DefaultStart is where the fake clock starts when a run does not say:
// 2026-01-01 00:00:00 UTC.
func DefaultStart() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }

// DefaultNotificationUUID is the notification_uuid of runs that do not set
// one.
const DefaultNotificationUUID = "00000000-0000-4000-8000-00000000c0de"

// DefaultFixture is the cloud of runs that give none: one compute host,
// compute1, enabled and up, with no servers.
func DefaultFixture() simulated.Fixture {
	return simulated.Fixture{Hosts: []simulated.Host{{Name: "compute1", Status: "enabled", State: "up"}}}
}

// Suite is what tasks and flows run against: the operator's configuration
// (flows, task sections, [lua] and [host_failure] options) and scripts.
type Suite struct {
	// Config is the configuration; nil means Masakari's defaults.
	Config *conf.Config
	// ScriptsDir holds the Lua tasks; empty means Config.Lua.ScriptsDir.
	ScriptsDir string
	// Builtins registers the built-in tasks of every run against the run's
	// simulated cloud; kaifuku passes builtin.Register. Nil registers none.
	Builtins Builtins

	// compiled keeps the compiled scripts between runs: every run loads
	// the scripts afresh (its own states, fakes and declarations), but an
	// unchanged file is not parsed and compiled again.
	compiled script.Cache
}

func (s *Suite) config() *conf.Config {
	if s.Config == nil {
		return conf.Defaults()
	}
	return s.Config
}

func (s *Suite) scriptsDir() string {
	if s.ScriptsDir != "" {
		return s.ScriptsDir
	}
	return s.config().Lua.ScriptsDir
}

// Check compiles the scripts and builds the configured flows, as the daemon
// does at start-up: a broken script or flow is reported here, with its file
// and line, before any test runs.
func (s *Suite) Check() error {
	w, err := s.newWorld(Fakes{}, s.config())
	if err != nil {
		return err
	}
	_, err = engine.BuildAll(w.registry, s.config())
	return err
}

// Builtins registers built-in tasks on reg, driving cloud and reading their
// options from cfg.
type Builtins func(reg *engine.Registry, cloud compute.Cloud, cfg *conf.Config)

// Fakes are the remote ends of a run.
type Fakes struct {
	// Cloud is the simulated cloud's fixture; nil means DefaultFixture.
	Cloud *simulated.Fixture
	// HTTP answers the tasks' HTTP requests.
	HTTP []HTTPResponse
	// SMTPRefuse, when set, makes every mail fail with this answer (an SMTP
	// refusal such as "554 5.7.1 relay access denied").
	SMTPRefuse string
	// Start is the fake clock's start; zero means DefaultStart.
	Start time.Time
}

// Recorded is what the fakes saw during a run.
type Recorded struct {
	Logs         []LogEntry
	HTTPRequests []HTTPRequest
	Mails        []SentMail
	// Duration is the fake time the run took: sleeps and waits count, the
	// real time does not.
	Duration time.Duration
}

// world is one run's registry and fakes.
type world struct {
	cfg      *conf.Config
	clock    *clock.Fake
	cloud    *simulated.Cloud
	http     *FakeHTTP
	mailer   *FakeMailer
	log      *logrus.Logger
	logs     *logRecorder
	segment  *recovery.MemorySegment // the fixture's hosts
	registry *engine.Registry
	start    time.Time
}

func (s *Suite) newWorld(fakes Fakes, cfg *conf.Config) (*world, error) {
	start := fakes.Start
	if start.IsZero() {
		start = DefaultStart()
	}
	if len(cfg.Lua.HTTPAllowedHosts) == 0 && len(fakes.HTTP) > 0 {
		// Nothing allowed yet (no configuration): allow the canned hosts, so
		// a test needs no config file. A configuration that lists hosts is
		// used as it is, so a test catches a host the operator forgot.
		c := *cfg
		c.Lua.HTTPAllowedHosts = cannedHosts(fakes.HTTP)
		cfg = &c
	}
	w := &world{cfg: cfg, clock: clock.NewFake(start), start: start}
	w.log, w.logs = newLogger()
	fx := DefaultFixture()
	if fakes.Cloud != nil {
		fx = *fakes.Cloud
	}
	cloud, err := simulated.New(fx, w.clock)
	if err != nil {
		return nil, fmt.Errorf("cloud fixture: %w", err)
	}
	w.cloud = cloud
	w.segment = recovery.NewMemorySegment(recovery.MethodAuto)
	for _, h := range fx.Hosts {
		w.segment.AddHost(h.Name, h.Reserved)
	}
	w.http = NewFakeHTTP(fakes.HTTP)
	w.mailer = &FakeMailer{Refuse: fakes.SMTPRefuse}

	w.registry = engine.NewRegistry()
	if s.Builtins != nil {
		s.Builtins(w.registry, cloud, cfg)
	}
	dir := s.scriptsDir()
	if dir != "" {
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			err := script.Register(w.registry, script.Options{Dir: dir, Config: cfg, Cloud: cloud, HTTP: w.http, Mailer: mailer{w.mailer},
				Cache: &s.compiled})
			if err != nil {
				return nil, err
			}
		} else if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("scripts directory: %w", err)
		}
	}
	return w, nil
}

// mailer adapts FakeMailer to the sandbox's mailer.
type mailer struct{ m *FakeMailer }

func (m mailer) Send(ctx context.Context, mail script.Mail) error {
	return m.m.record(ctx, SentMail{From: mail.From, To: slices.Clone(mail.To), Cc: slices.Clone(mail.Cc), Subject: mail.Subject, Body: mail.Body})
}

func (w *world) runner() *engine.Runner {
	return &engine.Runner{Clock: w.clock, Log: w.log}
}

func (w *world) recorded() Recorded {
	return Recorded{
		Logs:         w.logs.all(),
		HTTPRequests: w.http.Requests(),
		Mails:        w.mailer.Mails(),
		Duration:     w.clock.Now().Sub(w.start),
	}
}

// TaskOptions describes one task run.
type TaskOptions struct {
	Fakes
	// Store is the flow store the task starts with. notification_uuid is
	// added when missing, as every flow's store has it.
	Store engine.Store
	// Config, when not nil, is the task's settings section, replacing the
	// configuration file's.
	Config map[string]string
	// Phase is the phase the task runs in (the zero value is pre; the Lua
	// harness defaults to main). A store with reserved_host runs the task
	// in the reserved-host flow's main phase, whatever Phase says.
	Phase conf.Phase
}

// TaskResult is the outcome of one task run.
type TaskResult struct {
	// OK is true when the task succeeded.
	OK bool
	// Err is why it did not: its error (with the script's file:line for Lua
	// tasks), or the reason it skipped the flow.
	Err error
	// Status is the status the notification would get: finished, ignored
	// or error.
	Status string
	// Provides holds the keys the task provided.
	Provides engine.Store
	// Store is the flow store after the task.
	Store engine.Store
	// Record is the task's record (state, progress entries, error).
	Record engine.TaskRecord
	// Progress lists the task's progress entries as the API shows them.
	Progress []Progress
	// HostChanges lists changes to the segment's hosts (reserved flags).
	HostChanges []HostChange
	// Cloud is the simulated cloud after the run.
	Cloud simulated.Snapshot
	Recorded
}

// Progress is a progress entry as recovery_workflow_details shows it.
type Progress struct {
	Timestamp string `json:"timestamp"`
	Progress  string `json:"progress"`
	Message   string `json:"message"`
}

// apiProgress formats entries as Masakari's API: timestamps as Python's
// str(datetime) ("2026-01-01 00:00:05", microseconds when not zero), progress
// as a Python float string ("0.5", "1.0").
func apiProgress(entries []engine.ProgressEntry) []Progress {
	out := make([]Progress, len(entries))
	for i, e := range entries {
		ts := e.Timestamp.UTC()
		s := ts.Format("2006-01-02 15:04:05")
		if us := ts.Nanosecond() / 1000; us != 0 {
			s += fmt.Sprintf(".%06d", us)
		}
		p := strconv.FormatFloat(e.Progress, 'g', -1, 64)
		if !strings.ContainsAny(p, ".e") {
			p += ".0"
		}
		out[i] = Progress{Timestamp: s, Progress: p, Message: e.Message}
	}
	return out
}

// RunTask runs one task, a Lua script or a built-in Go task, through the
// engine's runner: the task's real factory, timeout, provides check and
// sandbox, in a one-task flow. An error means the run could not be set up
// (unknown task, bad fixture, a required key missing from the store) or a
// request found no canned response; the task's own failure is in the result.
func (s *Suite) RunTask(ctx context.Context, name string, opts TaskOptions) (*TaskResult, error) {
	cfg := s.config()
	w, err := s.newWorld(opts.Fakes, cfg)
	if err != nil {
		return nil, err
	}
	spec, err := w.registry.Lookup(name)
	if err != nil {
		return nil, err
	}
	store := opts.Store.Clone()
	if store == nil {
		store = engine.Store{}
	}
	for k, v := range store {
		n, err := engine.Normalize(v)
		if err != nil {
			return nil, fmt.Errorf("store key %q: %w", k, err)
		}
		store[k] = n
	}
	uuid, _ := store[engine.KeyNotificationUUID].(string)
	if uuid == "" {
		uuid = DefaultNotificationUUID
		store[engine.KeyNotificationUUID] = uuid
	}
	var missing []string
	for _, k := range spec.Requires {
		if _, ok := store[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("task %q requires %s in the store; give %s in the initial store",
			name, quoteList(spec.Requires), quoteList(missing))
	}

	kind, phase := conf.FlowHostAuto, opts.Phase
	if rh, ok := store[engine.KeyReservedHost].(string); ok {
		kind, phase = conf.FlowHostRH, conf.Main
		if _, ok := store[engine.KeyReservedHostList]; !ok {
			store[engine.KeyReservedHostList] = []any{rh}
		}
	}
	section := cfg.TaskSection(name)
	if opts.Config != nil {
		section = conf.Section{Name: name, Values: maps.Clone(opts.Config), KeyPos: map[string]conf.Pos{}}
	}
	res := &TaskResult{}
	task, err := spec.New(section)
	if err != nil {
		// A task that refuses its settings: the daemon would refuse the
		// configuration; here it is the result a test checks.
		res.Err = err
		if ce := (*conf.Error)(nil); !errors.As(err, &ce) || ce.Section != name {
			res.Err = fmt.Errorf("[%s] %w", name, err)
		}
		res.Status = engine.StatusError
		res.Store = store
		res.Provides = engine.Store{}
		res.Record = engine.TaskRecord{Name: name, Atom: spec.AtomName(), Phase: phase.String(), State: engine.StateFailure, Error: res.Err.Error()}
		res.Cloud = w.cloud.Snapshot()
		res.Recorded = w.recorded()
		return res, nil
	}
	flow := &engine.Flow{Kind: kind}
	flow.Phases[phase] = []engine.FlowTask{{Spec: spec, Ref: conf.TaskRef{Name: name}, Phase: phase, Task: task}}
	run := w.runner().Run(ctx, engine.Request{NotificationUUID: uuid, Flow: flow, Store: store, Hosts: w.segment,
		Claims: engine.NewLocalClaims(), VMoves: &engine.MemoryVMoves{}, ServerLocks: engine.NewLocalServerLocks(), Retry: recovery.MainRetry(kind)})

	res.OK = run.Err == nil
	res.Err = run.Err
	res.Status = run.Status
	res.Store = run.Store
	res.Provides = engine.Store{}
	if len(run.Tasks) > 0 {
		res.Record = run.Tasks[0]
		res.Progress = apiProgress(res.Record.Details)
	}
	if res.Record.State == engine.StateSuccess {
		for _, k := range spec.Provides {
			if v, ok := run.Store[k]; ok {
				res.Provides[k] = v
			}
		}
	}
	res.HostChanges = w.segment.Changes()
	res.Cloud = w.cloud.Snapshot()
	res.Recorded = w.recorded()
	return res, w.http.Unmatched()
}

// cannedHosts returns the hosts (host or host:port) of the canned responses
// URLs; for Lua patterns, of the URL the pattern spells once its escapes
// and anchors are removed.
func cannedHosts(rs []HTTPResponse) []string {
	var hosts []string
	for _, r := range rs {
		raw := r.URL
		if r.Pattern {
			raw = strings.TrimSuffix(strings.TrimPrefix(raw, "^"), "$")
			var b strings.Builder
			for i := 0; i < len(raw); i++ {
				if raw[i] == '%' && i+1 < len(raw) {
					i++
				}
				b.WriteByte(raw[i])
			}
			raw = b.String()
		}
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			continue
		}
		if !slices.Contains(hosts, u.Host) {
			hosts = append(hosts, u.Host)
		}
	}
	return hosts
}

func quoteList(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = strconv.Quote(k)
	}
	return strings.Join(q, ", ")
}
