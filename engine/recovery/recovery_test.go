package recovery_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/recovery"
)

// segments is an in-memory segment database for the manager.
type segments struct {
	mu          sync.Mutex
	maintenance map[string]bool
	reserved    map[string]bool
	order       []string
}

func (s *segments) SetMaintenance(_ context.Context, h string, on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maintenance[h] = on
	return nil
}

func (s *segments) SetReserved(_ context.Context, h string, r bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reserved[h] = r
	return nil
}

func (s *segments) ReservedHosts(context.Context, string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, h := range s.order {
		if s.reserved[h] && !s.maintenance[h] {
			out = append(out, h)
		}
	}
	return out, nil
}

// step is a task that records its run and fails as told.
type step struct {
	name string
	log  *[]string
	fail func(engine.Store) error
}

func (s step) Execute(_ context.Context, _ *engine.Env, in engine.Store) (engine.Store, error) {
	entry := s.name
	if rh, ok := in["reserved_host"].(string); ok {
		entry += "@" + rh
	}
	*s.log = append(*s.log, entry)
	if s.fail != nil {
		return nil, s.fail(in)
	}
	return nil, nil
}

func (step) Revert(context.Context, *engine.Env, engine.Store, error) error { return nil }

type world struct {
	mgr  *recovery.Manager
	segs *segments
	ran  []string
	fail map[string]func(engine.Store) error
}

func newWorld(t *testing.T) *world {
	w := &world{segs: &segments{maintenance: map[string]bool{}, reserved: map[string]bool{"rh1": true, "rh2": true}, order: []string{"rh1", "rh2"}},
		fail: map[string]func(engine.Store) error{}}
	reg := engine.NewRegistry()
	for _, n := range []string{"disable", "evacuate", "stop", "start", "confirm", "disable_node"} {
		n := n
		reg.Register(engine.Spec{Name: n, Optional: []string{"reserved_host"}, New: func(conf.Section) (engine.Task, error) {
			return step{name: n, log: &w.ran, fail: func(s engine.Store) error {
				if f := w.fail[n]; f != nil {
					return f(s)
				}
				return nil
			}}, nil
		}})
	}
	spec := func(k conf.FlowKind, pre, main, post string) conf.FlowSpec {
		refs := func(s string) (out []conf.TaskRef) {
			for _, f := range strings.Fields(s) {
				out = append(out, conf.TaskRef{Name: f})
			}
			return out
		}
		return conf.FlowSpec{Kind: k, Phases: [3][]conf.TaskRef{refs(pre), refs(main), refs(post)}}
	}
	cfg := &conf.Config{Flows: map[conf.FlowKind]conf.FlowSpec{
		conf.FlowHostAuto: spec(conf.FlowHostAuto, "disable", "", "evacuate"),
		conf.FlowHostRH:   spec(conf.FlowHostRH, "disable", "evacuate", ""),
		conf.FlowInstance: spec(conf.FlowInstance, "stop", "start", "confirm"),
		conf.FlowProcess:  spec(conf.FlowProcess, "disable_node", "", ""),
	}}
	flows, err := engine.BuildAll(reg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	w.mgr = &recovery.Manager{Runner: &engine.Runner{Clock: clock.NewFake(time.Unix(0, 0)), Log: log}, Flows: flows, Claims: engine.NewLocalClaims()}
	return w
}

func hostNote(payload map[string]string) recovery.Notification {
	return recovery.Notification{UUID: "n-1", Type: recovery.TypeComputeHost, Hostname: "compute1", Payload: payload}
}

func TestComputeHostDecisions(t *testing.T) {
	stopped := map[string]string{"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"}
	boom := func(engine.Store) error { return engine.Fail("boom") }
	skip := func(engine.Store) error {
		return engine.Skip("Skipped host 'compute1' recovery as no instances needs to be evacuated")
	}
	for _, tc := range []struct {
		name, method string
		payload      map[string]string
		fail         map[string]func(engine.Store) error
		noReserved   bool
		status       string
		ran          string
		message      string
	}{
		{name: "no host_status", payload: map[string]string{"event": "STOPPED"}, status: "ignored",
			message: "Notification 'n-1' ignored as host_status is not provided."},
		{name: "host_status unknown, even STARTED", payload: map[string]string{"event": "STARTED", "host_status": "unknown"}, status: "ignored",
			message: "Notification 'n-1' ignored as host_status is 'UNKNOWN'"},
		{name: "started", payload: map[string]string{"event": "STARTED", "host_status": "NORMAL"}, status: "finished"},
		{name: "odd event", payload: map[string]string{"event": "PAUSED", "host_status": "NORMAL"}, status: "ignored"},
		{name: "auto", method: "auto", payload: stopped, status: "finished", ran: "disable evacuate"},
		{name: "auto fails", method: "auto", payload: stopped, fail: map[string]func(engine.Store) error{"evacuate": boom}, status: "error", ran: "disable evacuate", message: "boom"},
		{name: "reserved_host tries each host", method: "reserved_host", payload: stopped,
			fail: map[string]func(engine.Store) error{"evacuate": func(s engine.Store) error {
				if s["reserved_host"] == "rh1" {
					return engine.Fail("rh1 is full")
				}
				return nil
			}}, status: "finished", ran: "disable evacuate@rh1 evacuate@rh2"},
		{name: "reserved_host without hosts", method: "reserved_host", payload: stopped, noReserved: true, status: "error",
			message: "No reserved_hosts available for evacuation."},
		{name: "auto_priority falls back to rh", method: "auto_priority", payload: stopped,
			fail: map[string]func(engine.Store) error{"evacuate": func(s engine.Store) error {
				if s["reserved_host"] == nil {
					return engine.Fail("auto failed")
				}
				return nil
			}}, status: "finished", ran: "disable evacuate disable evacuate@rh1"},
		{name: "auto_priority does not fall back on skip", method: "auto_priority", payload: stopped,
			fail: map[string]func(engine.Store) error{"evacuate": skip}, status: "finished", ran: "disable evacuate"},
		{name: "rh_priority falls back to auto when no reserved hosts", method: "rh_priority", payload: stopped, noReserved: true,
			status: "finished", ran: "disable evacuate"},
		{name: "rh_priority both fail", method: "rh_priority", payload: stopped, fail: map[string]func(engine.Store) error{"evacuate": boom},
			status: "error", ran: "disable evacuate@rh1 evacuate@rh2 disable evacuate", message: "boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			if tc.fail != nil {
				w.fail = tc.fail
			}
			if tc.noReserved {
				w.segs.reserved = map[string]bool{}
			}
			out := w.mgr.Process(context.Background(), hostNote(tc.payload),
				recovery.Host{Name: "compute1", Reserved: true, SegmentEnabled: true, RecoveryMethod: tc.method}, w.segs, nil)
			if out.Status != tc.status {
				t.Fatalf("status %s (%s), want %s", out.Status, out.Message, tc.status)
			}
			if got := strings.Join(w.ran, " "); got != tc.ran {
				t.Fatalf("ran %q, want %q", got, tc.ran)
			}
			if tc.message != "" && out.Message != tc.message {
				t.Fatalf("message %q, want %q", out.Message, tc.message)
			}
			if tc.ran != "" && (!w.segs.maintenance["compute1"] || w.segs.reserved["compute1"]) {
				t.Fatalf("failed host must be on maintenance and no longer reserved: %+v", w.segs)
			}
		})
	}
}

func TestVMAndProcessDecisions(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n      recovery.Notification
		status string
		ran    string
		maint  bool
	}{
		{"vm lifecycle stopped_failed", recovery.Notification{Type: "VM", Payload: map[string]string{"event": "LIFECYCLE", "vir_domain_event": "STOPPED_FAILED", "instance_uuid": "i"}}, "finished", "stop start confirm", false},
		{"vm io error", recovery.Notification{Type: "VM", Payload: map[string]string{"event": "IO_ERROR", "vir_domain_event": "IO_ERROR_REPORT", "instance_uuid": "i"}}, "finished", "stop start confirm", false},
		{"vm destroyed is not a failure", recovery.Notification{Type: "VM", Payload: map[string]string{"event": "LIFECYCLE", "vir_domain_event": "STOPPED_DESTROYED"}}, "ignored", "", false},
		{"vm pairs are case-sensitive", recovery.Notification{Type: "VM", Payload: map[string]string{"event": "lifecycle", "vir_domain_event": "STOPPED_FAILED"}}, "ignored", "", false},
		{"process nova-compute stopped", recovery.Notification{Type: "PROCESS", Payload: map[string]string{"event": "STOPPED", "process_name": "nova-compute"}}, "finished", "disable_node", true},
		{"process other stopped", recovery.Notification{Type: "PROCESS", Payload: map[string]string{"event": "stopped", "process_name": "sshd"}}, "finished", "", true},
		{"process started", recovery.Notification{Type: "PROCESS", Payload: map[string]string{"event": "STARTED", "process_name": "nova-compute"}}, "finished", "", false},
		{"process odd event", recovery.Notification{Type: "PROCESS", Payload: map[string]string{"event": "RESTARTED", "process_name": "nova-compute"}}, "ignored", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			out := w.mgr.Process(context.Background(), tc.n, recovery.Host{Name: "compute1", SegmentEnabled: true, RecoveryMethod: "auto"}, w.segs, nil)
			if out.Status != tc.status || strings.Join(w.ran, " ") != tc.ran || w.segs.maintenance["compute1"] != tc.maint {
				t.Fatalf("status %s ran %q maintenance %v (%s)", out.Status, strings.Join(w.ran, " "), w.segs.maintenance["compute1"], out.Message)
			}
		})
	}
}

func TestResumeGoesOnWithTheFallbackFlow(t *testing.T) {
	w := newWorld(t)
	resume := recovery.Checkpoints{
		conf.FlowHostAuto: {Store: engine.Store{}, Records: []engine.TaskRecord{{Name: "disable", State: engine.StateReverted}}},
		conf.FlowHostRH:   {Store: engine.Store{"host_name": "compute1", "notification_uuid": "n-1", "reserved_host_list": []any{"rh2"}}, Records: []engine.TaskRecord{{Name: "disable", State: engine.StateSuccess}}},
	}
	out := w.mgr.Process(context.Background(), hostNote(map[string]string{"event": "STOPPED", "host_status": "NORMAL"}),
		recovery.Host{Name: "compute1", SegmentEnabled: true, RecoveryMethod: "auto_priority"}, w.segs, resume)
	if out.Status != "finished" || strings.Join(w.ran, " ") != "evacuate@rh2" {
		t.Fatalf("status %s ran %q", out.Status, strings.Join(w.ran, " "))
	}
}

func TestDrainedFirstFlowDoesNotFallBack(t *testing.T) {
	for _, method := range []string{"rh_priority", "auto_priority"} {
		t.Run(method, func(t *testing.T) {
			w := newWorld(t)
			drain := make(chan struct{})
			w.mgr.Runner.Drain = drain
			// Shutdown begins while the first flow's pre task runs: the flow
			// stops at the next boundary and is to be resumed, not replaced
			// by the fallback flow.
			w.fail["disable"] = func(engine.Store) error { close(drain); return nil }
			out := w.mgr.Process(context.Background(), hostNote(map[string]string{"event": "STOPPED", "host_status": "NORMAL"}),
				recovery.Host{Name: "compute1", SegmentEnabled: true, RecoveryMethod: method}, w.segs, nil)
			if len(out.Runs) != 1 {
				var kinds []string
				for _, r := range out.Runs {
					kinds = append(kinds, string(r.Flow))
				}
				t.Fatalf("runs %v, want only the interrupted first flow", kinds)
			}
			if !errors.Is(out.Runs[0].Result.Err, engine.ErrInterrupted) {
				t.Fatalf("first run ended with %v, want ErrInterrupted", out.Runs[0].Result.Err)
			}
			if !out.Interrupted || !out.Runs[0].Result.Interrupted {
				t.Fatalf("a drained run is not reported as interrupted: %+v", out)
			}
		})
	}
}

// A daemon that dies in the fallback flow before any of its tasks succeeded
// resumes with the fallback: its start was announced with its store (which
// the service saves as its checkpoint), and the first flow, which failed
// without a success and so left no checkpoint, is not run again.
func TestFallbackIsAnnouncedAndResumedBeforeItsFirstSuccess(t *testing.T) {
	w := newWorld(t)
	var fallbacks []engine.Event
	w.mgr.Runner.Listener = engine.ListenerFunc(func(e engine.Event) {
		if e.Type == engine.FallbackStarted {
			fallbacks = append(fallbacks, e)
		}
	})
	ctx, crash := context.WithCancel(context.Background())
	defer crash()
	calls := 0
	w.fail["disable"] = func(engine.Store) error {
		calls++
		if calls == 1 {
			return engine.Fail("auto flow failed")
		}
		crash() // the daemon dies in the fallback's first task
		return ctx.Err()
	}
	note := hostNote(map[string]string{"event": "STOPPED", "host_status": "NORMAL"})
	host := recovery.Host{Name: "compute1", SegmentEnabled: true, RecoveryMethod: "auto_priority"}
	out := w.mgr.Process(ctx, note, host, w.segs, nil)
	if !out.Interrupted || len(out.Runs) != 2 {
		t.Fatalf("first processing: %+v", out)
	}
	if len(fallbacks) != 1 || fallbacks[0].Flow != conf.FlowHostRH || fallbacks[0].Store["reserved_host_list"] == nil {
		t.Fatalf("fallback events %+v, want one of the rh flow with its store", fallbacks)
	}

	// What the service saved: the fallback's store, no first-flow store.
	resume := recovery.Checkpoints{conf.FlowHostRH: {Store: fallbacks[0].Store}}
	w.ran, w.fail = nil, map[string]func(engine.Store) error{}
	fallbacks = nil
	out = w.mgr.Process(context.Background(), note, host, w.segs, resume)
	if out.Status != "finished" || strings.Join(w.ran, " ") != "disable evacuate@rh1" {
		t.Fatalf("resumed: status %s ran %q, want only the fallback flow", out.Status, strings.Join(w.ran, " "))
	}
	if len(fallbacks) != 0 {
		t.Errorf("a resumed fallback announced itself again: %+v", fallbacks)
	}
}
