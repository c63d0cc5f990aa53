package builtin_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/builtin"
	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
)

var epoch = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// uid returns a server UUID that is easy to read in failures.
func uid(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

// entry is a progress entry without its timestamp.
type entry struct {
	Msg string
	P   float64
}

func (e entry) String() string { return fmt.Sprintf("%.1f %q", e.P, e.Msg) }

// hostRecorder is the segment database's update_host_method.
type hostRecorder struct {
	mu    sync.Mutex
	calls []string
	err   error
}

func (h *hostRecorder) SetReserved(_ context.Context, host string, reserved bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, fmt.Sprintf("%s reserved=%v", host, reserved))
	return h.err
}

func (h *hostRecorder) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.calls, "; ")
}

// harnessNotification is the notification the harness runs tasks for.
const harnessNotification = "9b2e8ad0-2a4c-4a8e-b1f1-0c3e5d7f9a11"

// harness runs built-in tasks on a simulated cloud and a fake clock.
type harness struct {
	t      testing.TB
	clk    *clock.Fake
	cloud  *simulated.Cloud
	nova   compute.Cloud // what the tasks call: the cloud, or a wrapper of it
	cfg    *conf.Config
	hosts  *hostRecorder
	claims *engine.LocalClaims
	locks  *engine.LocalServerLocks // the Nova locks the tasks record
	log    *logrus.Logger
}

func newHarness(t testing.TB, fx simulated.Fixture) *harness {
	t.Helper()
	clk := clock.NewFake(epoch)
	cloud, err := simulated.New(fx, clk)
	if err != nil {
		t.Fatalf("simulated cloud: %v", err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	return &harness{t: t, clk: clk, cloud: cloud, nova: cloud, cfg: conf.Defaults(),
		hosts: &hostRecorder{}, claims: engine.NewLocalClaims(), locks: engine.NewLocalServerLocks(), log: log}
}

func (h *harness) registry() *engine.Registry {
	reg := engine.NewRegistry()
	builtin.Register(reg, h.nova, h.cfg)
	return reg
}

// run executes one task outside a flow and returns what it provided, its
// error and its progress entries.
func (h *harness) run(ctx context.Context, name string, in engine.Store) (engine.Store, error, []entry) {
	h.t.Helper()
	spec, err := h.registry().Lookup(name)
	if err != nil {
		h.t.Fatal(err)
	}
	task, err := spec.New(h.cfg.TaskSection(name))
	if err != nil {
		h.t.Fatal(err)
	}
	var mu sync.Mutex
	var got []entry
	env := engine.NewEnv(harnessNotification, name, h.clk,
		h.log.WithField("task", name), func(msg string, p float64) {
			mu.Lock()
			got = append(got, entry{msg, p})
			mu.Unlock()
		})
	env.Claims = h.claims
	env.ServerLocks = h.locks
	if h.hosts != nil {
		env.Hosts = h.hosts
	}
	out, err := task.Execute(ctx, env, in)
	return out, err, got
}

// succeed runs a task that must succeed and returns its progress entries.
func (h *harness) succeed(name string, in engine.Store) []entry {
	h.t.Helper()
	_, err, got := h.run(context.Background(), name, in)
	if err != nil {
		h.t.Fatal(err)
	}
	return got
}

// wantRun runs a task that must succeed and compares its progress entries
// with want, as wantProgress does.
func (h *harness) wantRun(name string, in engine.Store, want ...entry) {
	h.t.Helper()
	wantProgress(h.t, h.succeed(name, in), want...)
}

// wantFailure fails t unless err is a task failure (RecoveryError, the
// notification ends in error) that reads msg.
func wantFailure(t testing.TB, err error, msg string) {
	t.Helper()
	var rerr *engine.RecoveryError
	if !errors.As(err, &rerr) || err.Error() != msg || engine.StatusOf(err) != engine.StatusError {
		t.Fatalf("err = %v, want a recovery failure %q", err, msg)
	}
}

// elapsed is the virtual time since the harness started.
func (h *harness) elapsed() time.Duration { return h.clk.Now().Sub(epoch) }

func (h *harness) server(id string) simulated.ServerState {
	h.t.Helper()
	return first(h.t, h.cloud.Snapshot().Servers, func(s simulated.ServerState) bool { return s.ID == id }, "server "+id)
}

func (h *harness) service(host string) simulated.ServiceState {
	h.t.Helper()
	return first(h.t, h.cloud.Snapshot().Services, func(s simulated.ServiceState) bool { return s.Host == host }, "service on "+host)
}

// first returns the first item that matches, failing t when there is none.
func first[T any](t testing.TB, items []T, match func(T) bool, what string) T {
	t.Helper()
	for _, it := range items {
		if match(it) {
			return it
		}
	}
	t.Fatalf("no %s", what)
	var zero T
	return zero
}

func (h *harness) ops(op string) int { return h.cloud.Counters().Ops[op] }

func (h *harness) serverOps(id, op string) int { return h.cloud.Counters().Servers[id][op] }

// wantProgress compares progress entries exactly: texts and fractions.
func wantProgress(t testing.TB, got []entry, want ...entry) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = got[i].Msg == want[i].Msg && math.Abs(got[i].P-want[i].P) < 1e-9
	}
	if !ok {
		var b strings.Builder
		fmt.Fprintf(&b, "progress entries differ\n got:\n")
		for _, e := range got {
			fmt.Fprintf(&b, "   %s\n", e)
		}
		fmt.Fprintf(&b, " want:\n")
		for _, e := range want {
			fmt.Fprintf(&b, "   %s\n", e)
		}
		t.Fatal(b.String())
	}
}

// haServer is an active HA-enabled server.
func haServer(n int, host string) simulated.Server {
	return simulated.Server{ID: uid(n), Name: fmt.Sprintf("vm%d", n), Host: host,
		Metadata: map[string]string{"HA_Enabled": "True"}}
}

// failedHostCloud is compute1 down (long dead) with its servers, compute2
// up and enabled, compute3 a disabled reserved host.
func failedHostCloud(servers ...simulated.Server) simulated.Fixture {
	return simulated.Fixture{
		Hosts: []simulated.Host{
			{Name: "compute1", State: "down", Aggregates: []string{"agg1"}},
			{Name: "compute2"},
			{Name: "compute3", Status: "disabled", Reserved: true},
		},
		Servers: servers,
	}
}
