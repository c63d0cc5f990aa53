package recovery_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/recovery"
)

// source is a SegmentSource over the test segments whose source host is
// given.
type source struct {
	*segments
	host recovery.Host
	err  error
}

func (s source) SourceHost(context.Context, recovery.Notification) (recovery.Host, error) {
	return s.host, s.err
}

func (s source) HostFailures(context.Context, recovery.Notification, time.Duration) (int, int, error) {
	return 0, 0, nil
}

func TestRecoverChecksTheSegmentOfAFreshNotification(t *testing.T) {
	vm := recovery.Notification{UUID: "n-1", Type: "VM", Hostname: "ignored",
		Payload: map[string]string{"event": "LIFECYCLE", "vir_domain_event": "STOPPED_FAILED", "instance_uuid": "i"}}
	for _, tc := range []struct {
		name    string
		job     recovery.Job
		enabled bool
		status  string
		ran     string
	}{
		{"enabled", recovery.Job{Notification: vm}, true, "finished", "stop start confirm"},
		{"disabled", recovery.Job{Notification: vm}, false, "ignored", ""},
		{"disabled, resumed", recovery.Job{Notification: vm, Resumed: true}, false, "finished", "stop start confirm"},
		{"disabled, retried", recovery.Job{Notification: vm, Retry: true}, false, "finished", "stop start confirm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			src := source{segments: w.segs, host: recovery.Host{Name: "compute1", SegmentEnabled: tc.enabled, RecoveryMethod: "auto"}}
			out := w.mgr.Recover(context.Background(), tc.job, src)
			if out.Status != tc.status || strings.Join(w.ran, " ") != tc.ran || out.Interrupted {
				t.Fatalf("status %s ran %q interrupted %v (%s)", out.Status, strings.Join(w.ran, " "), out.Interrupted, out.Message)
			}
			if tc.status == "ignored" && out.Message != recovery.SegmentDisabledMessage {
				t.Fatalf("message %q", out.Message)
			}
		})
	}
}

func TestRecoverWithoutASourceHost(t *testing.T) {
	w := newWorld(t)
	src := source{segments: w.segs, err: errors.New("source host 1234: not found")}
	out := w.mgr.Recover(context.Background(), recovery.Job{Notification: hostNote(nil)}, src)
	if out.Status != "error" || out.Message != "source host 1234: not found" || out.Interrupted || len(w.ran) != 0 {
		t.Fatalf("%+v ran %v", out, w.ran)
	}
	// The same error while shutting down is an interruption: the
	// notification is resumed, not failed.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if out := w.mgr.Recover(ctx, recovery.Job{Notification: hostNote(nil)}, src); !out.Interrupted {
		t.Fatalf("cancelled: %+v", out)
	}
}

// A flow that fails is not interrupted, even when the context ends after
// it: the runner reverted it, and its error is final.
func TestAFailedFlowIsNotInterrupted(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w.fail["confirm"] = func(engine.Store) error { return engine.Fail("boom") }
	w.mgr.Runner.Listener = engine.ListenerFunc(func(e engine.Event) {
		if e.Type == engine.FlowFinished {
			cancel()
		}
	})
	vm := recovery.Notification{UUID: "n-1", Type: "VM", Payload: map[string]string{"event": "LIFECYCLE", "vir_domain_event": "STOPPED_FAILED", "instance_uuid": "i"}}
	out := w.mgr.Process(ctx, vm, recovery.Host{Name: "compute1", SegmentEnabled: true}, w.segs, nil)
	if out.Status != "error" || out.Interrupted {
		t.Fatalf("%+v", out)
	}
}

func TestMemorySegment(t *testing.T) {
	ctx := context.Background()
	s := recovery.NewMemorySegment(recovery.MethodReservedHost)
	for _, h := range []struct {
		name     string
		reserved bool
	}{{"compute1", true}, {"compute2", false}, {"compute4", true}, {"compute3", true}} {
		s.AddHost(h.name, h.reserved)
	}
	host, err := s.SourceHost(ctx, recovery.Notification{Hostname: "compute1"})
	if err != nil || host != (recovery.Host{Name: "compute1", Reserved: true, SegmentEnabled: true, RecoveryMethod: "reserved_host"}) {
		t.Fatalf("source host %+v %v", host, err)
	}
	if err := s.SetMaintenance(ctx, "compute3", true); err != nil {
		t.Fatal(err)
	}
	// In the order added, without the failed host or one on maintenance.
	if got, _ := s.ReservedHosts(ctx, "compute1"); strings.Join(got, " ") != "compute4" {
		t.Fatalf("reserved hosts %v", got)
	}
	if err := s.SetReserved(ctx, "elsewhere", true); err != nil {
		t.Fatal(err)
	}
	var hosts []string
	for _, h := range s.Hosts() {
		hosts = append(hosts, h.Name)
	}
	if strings.Join(hosts, " ") != "compute1 compute2 compute4 compute3 elsewhere" || strings.Join(s.OnMaintenance(), " ") != "compute3" {
		t.Fatalf("hosts %v, on maintenance %v", hosts, s.OnMaintenance())
	}
	if c := s.Changes(); len(c) != 2 || c[0] != (recovery.HostChange{Host: "compute3", Field: "on_maintenance", Value: true}) {
		t.Fatalf("changes %+v", c)
	}
}

// The reserved-host flow's main is retried once per reserved host; the
// other flows' main runs once.
func TestMainRetry(t *testing.T) {
	r := recovery.MainRetry(conf.FlowHostRH)
	if r == nil || r.Over != engine.KeyReservedHostList || r.Bind != engine.KeyReservedHost || r.None != recovery.ErrNoReservedHosts {
		t.Fatalf("%+v", r)
	}
	for _, k := range []conf.FlowKind{conf.FlowHostAuto, conf.FlowInstance, conf.FlowProcess} {
		if recovery.MainRetry(k) != nil {
			t.Errorf("%s main is retried", k)
		}
	}
}
