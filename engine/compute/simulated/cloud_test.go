package simulated

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
)

var t0 = time.Date(2026, 11, 25, 22, 0, 0, 0, time.UTC)

const (
	vm1 = "7f1c0b7e-5b1a-4c1e-9a43-0d8f6c3e2a11"
	vm2 = "1d7dcd23-629b-4484-9808-3c32a1557ef9"
	vm3 = "a02a507a-5901-46d7-add9-1a0c38362b50"
	vm4 = "182036b0-6153-4866-8c8c-4acb4745af5b"
)

// baseFixture: compute1 down (dead long ago) with vm1 (active), vm2
// (stopped), vm3 (error); compute2 up with vm4; compute3 up; compute4
// reserved and disabled.
func baseFixture() Fixture {
	return Fixture{
		Hosts: []Host{
			{Name: "compute1", State: "down", Aggregates: []string{"agg1"}},
			{Name: "compute2", Aggregates: []string{"agg1", "agg0"}},
			{Name: "compute3"},
			{Name: "compute4", Status: "disabled", DisabledReason: "reserved", Reserved: true},
		},
		Servers: []Server{
			{ID: vm1, Name: "vm1", Host: "compute1", Metadata: map[string]string{"HA_Enabled": "True"}},
			{ID: vm2, Name: "vm2", Host: "compute1", VMState: "stopped"},
			{ID: vm3, Name: "vm3", Host: "compute1", VMState: "error"},
			{ID: vm4, Name: "vm4", Host: "compute2"},
		},
		Latency: Latency{API: 100, Stop: 2000, Start: 3000, Evacuate: 5000},
	}
}

func newCloud(t *testing.T, f Fixture) (*Cloud, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(t0)
	c, err := New(f, clk)
	if err != nil {
		t.Fatal(err)
	}
	return c, clk
}

func mustGet(t *testing.T, c *Cloud, id string) compute.Server {
	t.Helper()
	s, err := c.GetServer(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func serviceOf(t *testing.T, c *Cloud, host string) compute.Service {
	t.Helper()
	svcs, err := c.ListServices(context.Background(), host, "nova-compute")
	if err != nil {
		t.Fatal(err)
	}
	if len(svcs) != 1 {
		t.Fatalf("%d services on %s", len(svcs), host)
	}
	return svcs[0]
}

func ptr[T any](v T) *T { return &v }

// wantAPIError checks the kind, code and message of an error.
func wantAPIError(t *testing.T, err error, kind error, code int, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %d %q", code, msg)
	}
	if !errors.Is(err, kind) {
		t.Errorf("error %v is not %v", err, kind)
	}
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %T %v is not an *APIError", err, err)
	}
	if ae.Code != code || ae.Message != msg {
		t.Errorf("got %d %q\nwant %d %q", ae.Code, ae.Message, code, msg)
	}
}

func TestServiceDownTiming(t *testing.T) {
	f := baseFixture()
	f.ServiceDownTime = 20
	f.Latency = Latency{}
	f.Hosts = append(f.Hosts, Host{Name: "compute5", Failed: true}, Host{Name: "compute6", ForcedDown: true})
	c, clk := newCloud(t, f)
	state := func(h string) string { return serviceOf(t, c, h).State }

	if got := state("compute1"); got != "down" {
		t.Errorf("fixture state down: reported %s", got)
	}
	if got := state("compute6"); got != "down" {
		t.Errorf("forced down host reported %s", got)
	}
	if got := state("compute5"); got != "up" {
		t.Errorf("just failed host reported %s, want up until service_down_time", got)
	}
	if err := c.FailHost("compute2"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(20 * time.Second)
	if got := state("compute2"); got != "up" {
		t.Errorf("failed host after exactly service_down_time: %s, want up (Nova: elapsed <= down time)", got)
	}
	if got := state("compute5"); got != "up" {
		t.Errorf("compute5 after exactly service_down_time: %s", got)
	}
	clk.Advance(time.Millisecond)
	if got := state("compute2"); got != "down" {
		t.Errorf("failed host after service_down_time: %s, want down", got)
	}
	if got := state("compute5"); got != "down" {
		t.Errorf("compute5 after service_down_time: %s", got)
	}
	// Forcing down is seen at once.
	if err := c.FailHost("compute3"); err != nil {
		t.Fatal(err)
	}
	svc := serviceOf(t, c, "compute3")
	if _, err := c.UpdateService(context.Background(), svc.ID, compute.ServiceUpdate{ForcedDown: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if got := state("compute3"); got != "down" {
		t.Errorf("forced down: %s", got)
	}
	// A restarted compute reports up again (unless forced down).
	if err := c.RestartHost("compute2"); err != nil {
		t.Fatal(err)
	}
	if got := state("compute2"); got != "up" {
		t.Errorf("restarted: %s", got)
	}
	if err := c.RestartHost("compute3"); err != nil {
		t.Fatal(err)
	}
	if got := state("compute3"); got != "down" {
		t.Errorf("restarted but forced down: %s", got)
	}
	if err := c.RecoverHost("compute3"); err != nil {
		t.Fatal(err)
	}
	if got := serviceOf(t, c, "compute3"); got.State != "up" || got.ForcedDown || got.Status != "enabled" {
		t.Errorf("recovered: %+v", got)
	}
	if err := c.FailHost("compute9"); err == nil || !strings.Contains(err.Error(), "compute9") {
		t.Errorf("fail of an unknown host: %v", err)
	}
}

func TestRPCTrap(t *testing.T) {
	disable := compute.ServiceUpdate{Status: ptr("disabled"), DisabledReason: "Masakari detected host failed."}
	tests := []struct {
		name   string
		rpc    int // fixture rpc_timeout
		before func(*Cloud, *clock.Fake, string)
		update compute.ServiceUpdate
		want   time.Duration // clock time the call takes (API latency 100 ms included)
	}{
		{name: "disable while Nova still sees it up waits the RPC timeout", update: disable,
			want: 60*time.Second + 100*time.Millisecond},
		{name: "configurable timeout", rpc: 30, update: disable, want: 30*time.Second + 100*time.Millisecond},
		{name: "enable waits too", update: compute.ServiceUpdate{Status: ptr("enabled")},
			want: 60*time.Second + 100*time.Millisecond},
		{name: "once Nova reports it down the answer is immediate", update: disable,
			before: func(_ *Cloud, clk *clock.Fake, _ string) { clk.Advance(61 * time.Second) },
			want:   100 * time.Millisecond},
		{name: "forcing down answers at once", update: compute.ServiceUpdate{ForcedDown: ptr(true)},
			want: 100 * time.Millisecond},
		{name: "disabling after forcing down answers at once", update: disable,
			before: func(c *Cloud, _ *clock.Fake, id string) {
				if _, err := c.UpdateService(context.Background(), id, compute.ServiceUpdate{ForcedDown: ptr(true)}); err != nil {
					panic(err)
				}
			},
			want: 100 * time.Millisecond},
		{name: "forcing down and disabling in one request answers at once",
			update: compute.ServiceUpdate{Status: ptr("disabled"), DisabledReason: "x", ForcedDown: ptr(true)},
			want:   100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := baseFixture()
			f.RPCTimeout = tt.rpc
			c, clk := newCloud(t, f)
			if err := c.FailHost("compute2"); err != nil {
				t.Fatal(err)
			}
			id := serviceOf(t, c, "compute2").ID
			if tt.before != nil {
				tt.before(c, clk, id)
			}
			start := clk.Now()
			svc, err := c.UpdateService(context.Background(), id, tt.update)
			if err != nil {
				t.Fatal(err)
			}
			if took := clk.Now().Sub(start); took != tt.want {
				t.Errorf("call took %v of Nova time, want %v", took, tt.want)
			}
			if tt.update.Status != nil && svc.Status != *tt.update.Status {
				t.Errorf("status %s, want %s", svc.Status, *tt.update.Status)
			}
			if tt.update.DisabledReason != "" && svc.DisabledReason != tt.update.DisabledReason {
				t.Errorf("reason %q", svc.DisabledReason)
			}
		})
	}

	t.Run("a live host answers at once", func(t *testing.T) {
		c, clk := newCloud(t, baseFixture())
		id := serviceOf(t, c, "compute3").ID
		start := clk.Now()
		if _, err := c.UpdateService(context.Background(), id, disable); err != nil {
			t.Fatal(err)
		}
		if took := clk.Now().Sub(start); took != 100*time.Millisecond {
			t.Errorf("took %v", took)
		}
	})

	t.Run("a caller that gives up still disabled the service", func(t *testing.T) {
		c, clk := newCloud(t, baseFixture())
		if err := c.FailHost("compute2"); err != nil {
			t.Fatal(err)
		}
		id := serviceOf(t, c, "compute2").ID
		ctx := clock.WithDeadline(context.Background(), clk.Now().Add(10*time.Second))
		_, err := c.UpdateService(ctx, id, disable)
		if !errors.Is(err, compute.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want a timeout", err)
		}
		if got := serviceOf(t, c, "compute2").Status; got != "disabled" {
			t.Errorf("status %s: Nova saves the change before it calls the compute", got)
		}
	})
}

// blockingClock is a clock whose Sleep blocks until released, to show the
// cloud does not hold its lock while it waits.
type blockingClock struct {
	now     time.Time
	asleep  chan struct{}
	release chan struct{}
}

func (b *blockingClock) Now() time.Time { return b.now }

func (b *blockingClock) Sleep(ctx context.Context, d time.Duration) error {
	b.asleep <- struct{}{}
	<-b.release
	return nil
}

func TestTrapDoesNotHoldTheLock(t *testing.T) {
	f := baseFixture()
	f.Latency = Latency{}
	clk := &blockingClock{now: t0, asleep: make(chan struct{}), release: make(chan struct{})}
	c, err := New(f, clk)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.FailHost("compute2"); err != nil {
		t.Fatal(err)
	}
	svcs, _ := c.ListServices(context.Background(), "compute2", "")
	done := make(chan error)
	go func() {
		_, err := c.UpdateService(context.Background(), svcs[0].ID, compute.ServiceUpdate{Status: ptr("disabled")})
		done <- err
	}()
	<-clk.asleep
	// The disable is waiting for the dead compute: everything else answers.
	if _, err := c.GetServer(context.Background(), vm4); err != nil {
		t.Fatal(err)
	}
	_ = c.Snapshot()
	close(clk.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestServiceUpdateRefusals(t *testing.T) {
	c, _ := newCloud(t, baseFixture())
	ctx := context.Background()
	id := serviceOf(t, c, "compute3").ID
	_, err := c.UpdateService(ctx, "12", compute.ServiceUpdate{Status: ptr("disabled")})
	wantAPIError(t, err, compute.ErrInvalid, 400, "Invalid uuid 12")
	_, err = c.UpdateService(ctx, "00000000-0000-0000-0000-000000000000", compute.ServiceUpdate{Status: ptr("disabled")})
	wantAPIError(t, err, compute.ErrNotFound, 404, "Service 00000000-0000-0000-0000-000000000000 could not be found.")
	_, err = c.UpdateService(ctx, id, compute.ServiceUpdate{})
	wantAPIError(t, err, compute.ErrInvalid, 400,
		"No updates were requested. Fields 'status' or 'forced_down' should be specified.")
	svc, err := c.UpdateService(ctx, id, compute.ServiceUpdate{DisabledReason: "ignored", ForcedDown: ptr(false)})
	if err != nil || svc.DisabledReason != "" || svc.Status != "enabled" {
		t.Errorf("a reason without status is ignored, as Nova does: %+v %v", svc, err)
	}
	_, err = c.UpdateService(ctx, id, compute.ServiceUpdate{Status: ptr("enabled"), DisabledReason: "x"})
	wantAPIError(t, err, compute.ErrInvalid, 400, "Specifying 'disabled_reason' with status 'enabled' is invalid.")
	_, err = c.UpdateService(ctx, id, compute.ServiceUpdate{Status: ptr("off")})
	if !errors.Is(err, compute.ErrInvalid) {
		t.Errorf("status off: %v", err)
	}
	svc, err = c.UpdateService(ctx, id, compute.ServiceUpdate{Status: ptr("disabled"), DisabledReason: "maintenance"})
	if err != nil || svc.Status != "disabled" || svc.DisabledReason != "maintenance" {
		t.Fatalf("disable: %+v %v", svc, err)
	}
	svc, err = c.UpdateService(ctx, id, compute.ServiceUpdate{Status: ptr("enabled")})
	if err != nil || svc.Status != "enabled" || svc.DisabledReason != "" {
		t.Fatalf("enable: %+v %v", svc, err)
	}
}

func TestForceUpAfterEvacuation(t *testing.T) {
	// Nova refuses to force a host up while `done` evacuations from it
	// remain; restarting its nova-compute completes them.
	f := baseFixture()
	f.Latency = Latency{}
	c, _ := newCloud(t, f)
	ctx := context.Background()
	id := serviceOf(t, c, "compute1").ID
	if _, err := c.UpdateService(ctx, id, compute.ServiceUpdate{ForcedDown: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if err := c.Evacuate(ctx, vm1, ""); err != nil {
		t.Fatal(err)
	}
	_ = mustGet(t, c, vm1) // completes (zero latency)
	_, err := c.UpdateService(ctx, id, compute.ServiceUpdate{ForcedDown: ptr(false)})
	wantAPIError(t, err, compute.ErrInvalid, 400, "Unable to force up host compute1 as `done` evacuation migration "+
		"records remain associated with the host. Ensure the compute service has been restarted, allowing these "+
		"records to move to `completed` before retrying this request.")
	if err := c.RestartHost("compute1"); err != nil {
		t.Fatal(err)
	}
	svc, err := c.UpdateService(ctx, id, compute.ServiceUpdate{ForcedDown: ptr(false)})
	if err != nil || svc.ForcedDown || svc.State != "up" {
		t.Fatalf("force up after restart: %+v %v", svc, err)
	}
	if m := c.Snapshot().Migrations; len(m) != 1 || m[0].Status != "completed" || m[0].Dest != "compute3" {
		t.Errorf("migrations %+v", m)
	}
}

func TestEvacuateRefusals(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(*Fixture)
		server string
		target string
		kind   error
		code   int
		msg    string
	}{
		{name: "unknown server", server: "00000000-0000-4000-8000-000000000000", kind: compute.ErrNotFound, code: 404,
			msg: "Instance 00000000-0000-4000-8000-000000000000 could not be found."},
		{name: "source service up", server: vm4, kind: compute.ErrInvalid, code: 400,
			msg: "Compute service of compute2 is still in use."},
		{name: "source failed but not yet reported down", server: vm1, kind: compute.ErrInvalid, code: 400,
			setup: func(f *Fixture) { f.Hosts[0].State, f.Hosts[0].Failed = "", true },
			msg:   "Compute service of compute1 is still in use."},
		{name: "source up but disabled", server: vm4, kind: compute.ErrInvalid, code: 400,
			setup: func(f *Fixture) { f.Hosts[1].Status = "disabled" },
			msg:   "Compute service of compute2 is still in use."},
		{name: "unknown target", server: vm1, target: "compute9", kind: compute.ErrNotFound, code: 404,
			msg: "Compute host compute9 not found."},
		{name: "target is the source", server: vm1, target: "compute1", kind: compute.ErrInvalid, code: 400,
			msg: "The target host can't be the same one."},
		{name: "paused", server: vm1, setup: func(f *Fixture) { f.Servers[0].VMState = "paused" },
			kind: compute.ErrConflict, code: 409, msg: "Cannot 'evacuate' instance " + vm1 + " while it is in vm_state paused"},
		{name: "resized", server: vm1, setup: func(f *Fixture) { f.Servers[0].VMState = "resized" },
			kind: compute.ErrConflict, code: 409, msg: "Cannot 'evacuate' instance " + vm1 + " while it is in vm_state resized"},
		{name: "shelved", server: vm1, setup: func(f *Fixture) { f.Servers[0].VMState = "shelved" },
			kind: compute.ErrConflict, code: 409, msg: "Cannot 'evacuate' instance " + vm1 + " while it is in vm_state shelved"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := baseFixture()
			if tt.setup != nil {
				tt.setup(&f)
			}
			c, _ := newCloud(t, f)
			err := c.Evacuate(context.Background(), tt.server, tt.target)
			wantAPIError(t, err, tt.kind, tt.code, tt.msg)
			if n := c.Counters().Evacuations[tt.server]; n != 0 {
				t.Errorf("refused evacuation counted as accepted: %d", n)
			}
			if s, err := c.GetServer(context.Background(), tt.server); err == nil && s.Host != f.Servers[indexOf(f, tt.server)].Host {
				t.Errorf("server moved to %s", s.Host)
			}
		})
	}
}

func indexOf(f Fixture, id string) int {
	for i, s := range f.Servers {
		if s.ID == id {
			return i
		}
	}
	return 0
}

func TestEvacuate(t *testing.T) {
	tests := []struct {
		server                 string
		wantVM                 string
		wantPower              int
		wantStatusDuring       string
		target, wantHost, hypr string
	}{
		{server: vm1, wantVM: "active", wantPower: 1, wantStatusDuring: "REBUILD", wantHost: "compute3"},
		{server: vm2, wantVM: "stopped", wantPower: 4, wantStatusDuring: "REBUILD", wantHost: "compute3"},
		{server: vm3, wantVM: "active", wantPower: 1, wantStatusDuring: "REBUILD", wantHost: "compute3"},
		{server: vm1, target: "compute2", wantVM: "active", wantPower: 1, wantStatusDuring: "REBUILD", wantHost: "compute2"},
		{server: vm1, target: "compute2", wantVM: "active", wantPower: 1, wantStatusDuring: "REBUILD",
			wantHost: "compute2", hypr: "compute2.example.org"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s to %q", tt.server[:8], tt.target), func(t *testing.T) {
			f := baseFixture()
			f.Hosts[1].HypervisorHostname = tt.hypr
			c, clk := newCloud(t, f)
			before := mustGet(t, c, tt.server)
			if err := c.Evacuate(context.Background(), tt.server, tt.target); err != nil {
				t.Fatal(err)
			}
			during := mustGet(t, c, tt.server)
			if during.TaskState != "rebuilding" || during.Status != tt.wantStatusDuring ||
				during.VMState != before.VMState || during.Host != "compute1" || during.HypervisorHostname != "compute1" {
				t.Errorf("during evacuation: %+v", during)
			}
			clk.Advance(4 * time.Second) // an API call of 100 ms + 4 s < 5 s
			if s := mustGet(t, c, tt.server); s.TaskState != "rebuilding" {
				t.Errorf("done before the evacuate latency: %+v", s)
			}
			clk.Advance(time.Second)
			after := mustGet(t, c, tt.server)
			wantHyp := tt.wantHost
			if tt.hypr != "" {
				wantHyp = tt.hypr
			}
			if after.Host != tt.wantHost || after.HypervisorHostname != wantHyp || after.VMState != tt.wantVM ||
				after.TaskState != "" || after.PowerState != tt.wantPower {
				t.Errorf("after evacuation: %+v", after)
			}
			if n := c.Counters().Evacuations[tt.server]; n != 1 {
				t.Errorf("evacuations counted %d", n)
			}
			m := c.Snapshot().Migrations
			if len(m) != 1 || m[0].Status != "done" || m[0].Source != "compute1" || m[0].Dest != tt.wantHost {
				t.Errorf("migrations %+v", m)
			}
		})
	}
}

func TestEvacuateIgnoresTaskState(t *testing.T) {
	// A server stuck powering off on a dead host can be evacuated, and an
	// evacuation of a server already rebuilding is accepted too (Nova after
	// its bug 1978983): the second one replaces the first, and the
	// counters show both.
	f := baseFixture()
	f.Servers[0].TaskState = "powering-off"
	c, clk := newCloud(t, f)
	ctx := context.Background()
	if err := c.Evacuate(ctx, vm1, ""); err != nil {
		t.Fatalf("evacuate with task_state powering-off: %v", err)
	}
	if err := c.Evacuate(ctx, vm1, "compute2"); err != nil {
		t.Fatalf("second evacuate: %v", err)
	}
	clk.Advance(time.Minute)
	s := mustGet(t, c, vm1)
	if s.Host != "compute2" || s.VMState != "active" || s.TaskState != "" {
		t.Errorf("after two evacuations: %+v", s)
	}
	if n := c.Counters().Evacuations[vm1]; n != 2 {
		t.Errorf("evacuations %d, want 2", n)
	}
	m := c.Snapshot().Migrations
	if len(m) != 2 || m[0].Status != "failed" || m[1].Status != "done" || m[1].Dest != "compute2" {
		t.Errorf("migrations %+v", m)
	}
	// Once it runs on a live host, Nova refuses.
	wantAPIError(t, c.Evacuate(ctx, vm1, ""), compute.ErrInvalid, 400, "Compute service of compute2 is still in use.")
}

func TestScheduler(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(*Fixture, *Cloud)
		target string
		want   string // destination; "" for NoValidHost
	}{
		{name: "fewest servers", want: "compute3"},
		{name: "ties by name", setup: func(f *Fixture, _ *Cloud) {
			f.Servers = append(f.Servers, Server{ID: "5b8e1d0a-2f7c-4c3e-8d6b-9a1f0e2d3c4b", Name: "vm5", Host: "compute3"})
		}, want: "compute2"},
		{name: "not a disabled host", setup: func(f *Fixture, _ *Cloud) { f.Hosts[2].Status = "disabled" }, want: "compute2"},
		{name: "not a host reported down", setup: func(f *Fixture, _ *Cloud) { f.Hosts[2].State = "down" }, want: "compute2"},
		{name: "not a forced down host", setup: func(f *Fixture, _ *Cloud) { f.Hosts[2].ForcedDown = true }, want: "compute2"},
		{name: "not a full host", setup: func(f *Fixture, _ *Cloud) {
			f.Hosts[2].MaxServers = 0
			f.Hosts[1].MaxServers = 1
			f.Hosts[2].Status = "disabled"
		}, want: ""},
		{name: "a dead host Nova still sees up", setup: func(f *Fixture, _ *Cloud) {
			f.Hosts[2].Failed = true
		}, want: "compute3"},
		{name: "no usable host", setup: func(f *Fixture, _ *Cloud) {
			f.Hosts[1].Status, f.Hosts[2].Status = "disabled", "disabled"
		}, want: ""},
		{name: "requested target", target: "compute2", want: "compute2"},
		{name: "requested target disabled", target: "compute4", want: ""},
		{name: "requested target down", target: "compute3", setup: func(f *Fixture, _ *Cloud) { f.Hosts[2].State = "down" }, want: ""},
		{name: "enabled reserved host", target: "compute4", setup: func(f *Fixture, _ *Cloud) {
			f.Hosts[3].Status, f.Hosts[3].DisabledReason = "", ""
		}, want: "compute4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := baseFixture()
			if tt.setup != nil {
				tt.setup(&f, nil)
			}
			c, clk := newCloud(t, f)
			if err := c.Evacuate(context.Background(), vm1, tt.target); err != nil {
				t.Fatalf("evacuate is accepted even when scheduling fails later: %v", err)
			}
			clk.Advance(time.Minute)
			s := mustGet(t, c, vm1)
			m := c.Snapshot().Migrations
			if tt.want == "" {
				// NoValidHost: the conductor sets the server to error.
				if s.VMState != "error" || s.TaskState != "" || s.Host != "compute1" || m[0].Status != "error" {
					t.Errorf("no valid host: server %+v, migration %+v", s, m[0])
				}
				return
			}
			if tt.name == "a dead host Nova still sees up" {
				// The rebuild is cast to a dead compute: it waits for its
				// restart.
				if s.TaskState != "rebuilding" || s.Host != "compute1" {
					t.Fatalf("rebuild on a dead host went on: %+v", s)
				}
				if err := c.RestartHost("compute3"); err != nil {
					t.Fatal(err)
				}
				clk.Advance(5 * time.Second)
				s = mustGet(t, c, vm1)
			}
			if s.Host != tt.want || s.VMState != "active" || s.TaskState != "" {
				t.Errorf("server %+v, want on %s", s, tt.want)
			}
			checkLoads(t, c)
		})
	}

	t.Run("spreads parallel evacuations", func(t *testing.T) {
		f := baseFixture()
		c, _ := newCloud(t, f)
		for _, id := range []string{vm1, vm2, vm3} {
			if err := c.Evacuate(context.Background(), id, ""); err != nil {
				t.Fatal(err)
			}
		}
		// compute2 has vm4; compute3 is empty: vm1 and vm2 alternate.
		dests := map[string]string{}
		for _, m := range c.Snapshot().Migrations {
			dests[m.ServerID] = m.Dest
		}
		want := map[string]string{vm1: "compute3", vm2: "compute2", vm3: "compute3"}
		for id, d := range want {
			if dests[id] != d {
				t.Errorf("%s to %s, want %s (all: %v)", id[:8], dests[id], d, dests)
			}
		}
		checkLoads(t, c)
	})

	t.Run("abandoned evacuations free their destination", func(t *testing.T) {
		f := baseFixture()
		f.Latency.Evacuate = 1000
		c, clk := newCloud(t, f)
		ctx := context.Background()
		// vm1 to compute3, evacuated again while rebuilding (the first
		// rebuild is abandoned: compute3 again), then reset, which
		// abandons the second: compute3 is empty again for vm2.
		for _, step := range []func() error{
			func() error { return c.Evacuate(ctx, vm1, "") },
			func() error { return c.Evacuate(ctx, vm1, "") },
			func() error { return c.ResetState(ctx, vm1, "error") },
			func() error { return c.Evacuate(ctx, vm2, "") },
		} {
			if err := step(); err != nil {
				t.Fatal(err)
			}
			checkLoads(t, c)
		}
		clk.Advance(time.Minute)
		checkLoads(t, c)
		if s := mustGet(t, c, vm2); s.Host != "compute3" {
			t.Errorf("vm2 on %s after vm1's evacuations were abandoned, want compute3 (empty)", s.Host)
		}
	})
}

// checkLoads fails t unless every host's load is its servers and the
// evacuations under way to it.
func checkLoads(t *testing.T, c *Cloud) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, h := range c.hosts {
		want := 0
		for _, s := range c.servers {
			if s.host == h.name {
				want++
			}
			if s.op != nil && s.op.kind == "evacuate" && s.op.dest == h.name {
				want++
			}
		}
		if h.load != want {
			t.Errorf("load of %s is %d, want %d", h.name, h.load, want)
		}
	}
}

func TestStopStart(t *testing.T) {
	f := baseFixture()
	c, clk := newCloud(t, f)
	ctx := context.Background()
	if err := c.Stop(ctx, vm4); err != nil {
		t.Fatal(err)
	}
	if s := mustGet(t, c, vm4); s.TaskState != "powering-off" || s.VMState != "active" || s.Status != "ACTIVE" {
		t.Errorf("stopping: %+v", s)
	}
	wantAPIError(t, c.Stop(ctx, vm4), compute.ErrConflict, 409,
		"Cannot 'stop' instance "+vm4+" while it is in task_state powering-off")
	clk.Advance(2 * time.Second)
	if s := mustGet(t, c, vm4); s.VMState != "stopped" || s.PowerState != 4 || s.TaskState != "" || s.Status != "SHUTOFF" {
		t.Errorf("stopped: %+v", s)
	}
	wantAPIError(t, c.Stop(ctx, vm4), compute.ErrConflict, 409,
		"Cannot 'stop' instance "+vm4+" while it is in vm_state stopped")
	if err := c.Start(ctx, vm4); err != nil {
		t.Fatal(err)
	}
	if s := mustGet(t, c, vm4); s.TaskState != "powering-on" || s.VMState != "stopped" {
		t.Errorf("starting: %+v", s)
	}
	clk.Advance(3 * time.Second)
	if s := mustGet(t, c, vm4); s.VMState != "active" || s.PowerState != 1 || s.TaskState != "" {
		t.Errorf("started: %+v", s)
	}
	wantAPIError(t, c.Start(ctx, vm4), compute.ErrConflict, 409,
		"Cannot 'start' instance "+vm4+" while it is in vm_state active")
	wantAPIError(t, c.Start(ctx, "nope"), compute.ErrNotFound, 404, "Instance nope could not be found.")

	// Nova stops from active or error only.
	if err := c.ResetState(ctx, vm4, "active"); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, c.Start(ctx, strings.ToUpper(vm4)), compute.ErrConflict, 409,
		"Cannot 'start' instance "+strings.ToUpper(vm4)+" while it is in vm_state active")
	// A server in error can be stopped (Masakari stops evacuated error
	// servers).
	if err := c.ResetState(ctx, vm4, "error"); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(ctx, vm4); err != nil {
		t.Fatalf("stop of an error server: %v", err)
	}
	clk.Advance(2 * time.Second)
	if s := mustGet(t, c, vm4); s.VMState != "stopped" {
		t.Errorf("stopped from error: %+v", s)
	}
}

func TestStopOnDeadHostWaitsForRestart(t *testing.T) {
	f := baseFixture()
	c, clk := newCloud(t, f)
	ctx := context.Background()
	if err := c.FailHost("compute2"); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(ctx, vm4); err != nil {
		t.Fatalf("Nova accepts a stop for a host it believes up: %v", err)
	}
	clk.Advance(time.Hour)
	if s := mustGet(t, c, vm4); s.TaskState != "powering-off" {
		t.Fatalf("stop on a dead compute completed: %+v", s)
	}
	if err := c.RestartHost("compute2"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Second)
	if s := mustGet(t, c, vm4); s.VMState != "stopped" || s.TaskState != "" {
		t.Errorf("after restart: %+v", s)
	}
}

func TestResetStateAndLock(t *testing.T) {
	c, clk := newCloud(t, baseFixture())
	ctx := context.Background()
	if err := c.Stop(ctx, vm4); err != nil {
		t.Fatal(err)
	}
	if err := c.ResetState(ctx, vm4, "error"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if s := mustGet(t, c, vm4); s.VMState != "error" || s.TaskState != "" || s.Status != "ERROR" {
		t.Errorf("after reset: %+v (the abandoned stop must not complete)", s)
	}
	if err := c.ResetState(ctx, vm4, "active"); err != nil {
		t.Fatal(err)
	}
	if s := mustGet(t, c, vm4); s.VMState != "active" {
		t.Errorf("after reset active: %+v", s)
	}
	err := c.ResetState(ctx, vm4, "stopped")
	wantAPIError(t, err, compute.ErrInvalid, 400,
		"Invalid input for field/attribute state. Value: stopped. 'stopped' is not one of ['active', 'error']")
	wantAPIError(t, c.ResetState(ctx, "x", "error"), compute.ErrNotFound, 404, "Instance x could not be found.")

	for _, lock := range []bool{true, true, false, false} {
		var err error
		if lock {
			err = c.Lock(ctx, vm1)
		} else {
			err = c.Unlock(ctx, vm1)
		}
		if err != nil {
			t.Fatal(err)
		}
		if s := mustGet(t, c, vm1); s.Locked != lock {
			t.Errorf("locked %v, want %v", s.Locked, lock)
		}
	}
	// An administrator acts on a locked server.
	if err := c.Lock(ctx, vm1); err != nil {
		t.Fatal(err)
	}
	if err := c.Evacuate(ctx, vm1, ""); err != nil {
		t.Errorf("evacuate of a locked server: %v", err)
	}
	wantAPIError(t, c.Lock(ctx, "x"), compute.ErrNotFound, 404, "Instance x could not be found.")
}

func TestAggregates(t *testing.T) {
	c, _ := newCloud(t, baseFixture())
	ctx := context.Background()
	aggs, err := c.ListAggregates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []compute.Aggregate{{ID: 1, Name: "agg0", Hosts: []string{"compute2"}},
		{ID: 2, Name: "agg1", Hosts: []string{"compute1", "compute2"}}}
	if fmt.Sprint(aggs) != fmt.Sprint(want) {
		t.Errorf("aggregates %v, want %v", aggs, want)
	}
	if err := c.AddHostToAggregate(ctx, 2, "compute4"); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, c.AddHostToAggregate(ctx, 2, "compute4"), compute.ErrConflict, 409,
		"Aggregate 2 already has host compute4.")
	wantAPIError(t, c.AddHostToAggregate(ctx, 2, "compute1"), compute.ErrConflict, 409,
		"Aggregate 2 already has host compute1.")
	wantAPIError(t, c.AddHostToAggregate(ctx, 7, "compute4"), compute.ErrNotFound, 404,
		"Aggregate 7 could not be found.")
	wantAPIError(t, c.AddHostToAggregate(ctx, 1, "compute9"), compute.ErrNotFound, 404,
		"Compute host compute9 could not be found.")
	aggs, _ = c.ListAggregates(ctx)
	if got := aggs[1].Hosts; fmt.Sprint(got) != "[compute1 compute2 compute4]" {
		t.Errorf("agg1 hosts %v", got)
	}
}

func TestReadOps(t *testing.T) {
	c, clk := newCloud(t, baseFixture())
	ctx := context.Background()
	start := clk.Now()
	list, err := c.ListServers(ctx, "compute1")
	if err != nil {
		t.Fatal(err)
	}
	if took := clk.Now().Sub(start); took != 100*time.Millisecond {
		t.Errorf("API latency: %v", took)
	}
	var names []string
	for _, s := range list {
		names = append(names, s.Name)
	}
	if fmt.Sprint(names) != "[vm1 vm2 vm3]" {
		t.Errorf("servers on compute1: %v", names)
	}
	if all, _ := c.ListServers(ctx, ""); len(all) != 4 {
		t.Errorf("all servers: %d", len(all))
	}
	if none, err := c.ListServers(ctx, "compute9"); err != nil || len(none) != 0 {
		t.Errorf("unknown host: %v %v", none, err)
	}
	s := mustGet(t, c, strings.ToUpper(vm1))
	if s.ID != vm1 || s.Metadata["HA_Enabled"] != "True" || s.PowerState != 1 || s.Status != "ACTIVE" {
		t.Errorf("server %+v", s)
	}
	if s := mustGet(t, c, vm2); s.PowerState != 4 || s.Status != "SHUTOFF" {
		t.Errorf("stopped server %+v", s)
	}
	svcs, err := c.ListServices(ctx, "", "")
	if err != nil || len(svcs) != 4 {
		t.Fatalf("services %v %v", svcs, err)
	}
	for _, svc := range svcs {
		if !isUUID(svc.ID) || svc.Binary != "nova-compute" {
			t.Errorf("service %+v", svc)
		}
	}
	if svcs[3].Status != "disabled" || svcs[3].DisabledReason != "reserved" {
		t.Errorf("reserved host's service %+v", svcs[3])
	}
	if other, _ := c.ListServices(ctx, "", "nova-scheduler"); len(other) != 0 {
		t.Errorf("nova-scheduler services: %v", other)
	}
	// Service ids are stable across loads.
	c2, _ := newCloud(t, baseFixture())
	if svcs2, _ := c2.ListServices(ctx, "compute1", ""); svcs2[0].ID != svcs[0].ID {
		t.Errorf("service id changed: %s, %s", svcs2[0].ID, svcs[0].ID)
	}
	if got := c.ReservedHosts(); fmt.Sprint(got) != "[compute4]" {
		t.Errorf("reserved hosts %v", got)
	}
	if hs := c.Hosts(); len(hs) != 4 || hs[1].Name != "compute2" || fmt.Sprint(hs[1].Aggregates) != "[agg1 agg0]" {
		t.Errorf("hosts %+v", hs)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.GetServer(cctx, vm1); !errors.Is(err, context.Canceled) || !errors.Is(err, compute.ErrUnavailable) {
		t.Errorf("cancelled call: %v", err)
	}
}

func TestFaults(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		fault Fault
		call  func(*Cloud) error
		kind  error
		code  int
		msg   string
	}{
		{name: "evacuate conflict", fault: Fault{Op: "evacuate", Server: vm1, Error: "conflict"},
			call: func(c *Cloud) error { return c.Evacuate(ctx, vm1, "") }, kind: compute.ErrConflict, code: 409,
			msg: "Injected fault: evacuate of instance " + vm1 + " answers 409 Conflict."},
		{name: "by server name", fault: Fault{Op: "evacuate", Server: "vm1", Error: "not_found"},
			call: func(c *Cloud) error { return c.Evacuate(ctx, vm1, "") }, kind: compute.ErrNotFound, code: 404,
			msg: "Injected fault: evacuate of instance " + vm1 + " answers 404 Not Found."},
		{name: "by host", fault: Fault{Op: "get_server", Host: "compute1", Error: "unavailable"},
			call: func(c *Cloud) error { _, err := c.GetServer(ctx, vm2); return err }, kind: compute.ErrUnavailable,
			code: 500, msg: "Unexpected API Error. Injected fault: get_server of instance " + vm2 + " answers 500 Internal Server Error."},
		{name: "sync error is a 500", fault: Fault{Op: "lock", Error: "error"},
			call: func(c *Cloud) error { return c.Lock(ctx, vm4) }, kind: compute.ErrUnavailable, code: 500,
			msg: "Unexpected API Error. Injected fault: lock of instance " + vm4 + " answers 500 Internal Server Error."},
		{name: "forbidden", fault: Fault{Op: "reset_state", Error: "forbidden"},
			call: func(c *Cloud) error { return c.ResetState(ctx, vm4, "error") }, kind: compute.ErrForbidden, code: 403,
			msg: "Injected fault: reset_state of instance " + vm4 + " answers 403 Forbidden."},
		{name: "invalid", fault: Fault{Op: "stop", Error: "invalid"},
			call: func(c *Cloud) error { return c.Stop(ctx, vm4) }, kind: compute.ErrInvalid, code: 400,
			msg: "Injected fault: stop of instance " + vm4 + " answers 400 Bad Request."},
		{name: "disable_service", fault: Fault{Op: "disable_service", Host: "compute3", Error: "conflict"},
			call: func(c *Cloud) error {
				_, err := c.UpdateService(ctx, uuidOf("compute3"), compute.ServiceUpdate{Status: ptr("disabled")})
				return err
			}, kind: compute.ErrConflict, code: 409, msg: "Injected fault: disable_service answers 409 Conflict."},
		{name: "list_services", fault: Fault{Op: "list_services", Error: "unavailable"},
			call: func(c *Cloud) error { _, err := c.ListServices(ctx, "compute1", ""); return err },
			kind: compute.ErrUnavailable, code: 500,
			msg: "Unexpected API Error. Injected fault: list_services answers 500 Internal Server Error."},
		{name: "list_servers", fault: Fault{Op: "list_servers", Host: "compute1", Error: "forbidden"},
			call: func(c *Cloud) error { _, err := c.ListServers(ctx, "compute1"); return err },
			kind: compute.ErrForbidden, code: 403, msg: "Injected fault: list_servers answers 403 Forbidden."},
		{name: "add_host_to_aggregate", fault: Fault{Op: "add_host_to_aggregate", Error: "conflict"},
			call: func(c *Cloud) error { return c.AddHostToAggregate(ctx, 1, "compute4") },
			kind: compute.ErrConflict, code: 409, msg: "Injected fault: add_host_to_aggregate answers 409 Conflict."},
		{name: "list_aggregates", fault: Fault{Op: "list_aggregates", Error: "not_found"},
			call: func(c *Cloud) error { _, err := c.ListAggregates(ctx); return err },
			kind: compute.ErrNotFound, code: 404, msg: "Injected fault: list_aggregates answers 404 Not Found."},
	}
	for _, tt := range tests {
		for _, how := range []string{"fixture", "injected"} {
			t.Run(tt.name+" "+how, func(t *testing.T) {
				f := baseFixture()
				if how == "fixture" {
					f.Faults = []Fault{tt.fault}
				}
				c, _ := newCloud(t, f)
				if how == "injected" {
					if err := c.InjectFault(tt.fault); err != nil {
						t.Fatal(err)
					}
				}
				wantAPIError(t, tt.call(c), tt.kind, tt.code, tt.msg)
				wantAPIError(t, tt.call(c), tt.kind, tt.code, tt.msg) // unlimited
				c.ClearFaults()
				if err := tt.call(c); err != nil {
					t.Errorf("after ClearFaults: %v", err)
				}
			})
		}
	}

	t.Run("count clears the fault", func(t *testing.T) {
		f := baseFixture()
		f.Faults = []Fault{{Op: "evacuate", Server: vm1, Error: "conflict", Count: 2}}
		c, _ := newCloud(t, f)
		for i := 0; i < 2; i++ {
			if err := c.Evacuate(ctx, vm1, ""); !errors.Is(err, compute.ErrConflict) {
				t.Fatalf("hit %d: %v", i, err)
			}
		}
		if got := c.Faults(); len(got) != 0 {
			t.Errorf("faults left %+v", got)
		}
		if err := c.Evacuate(ctx, vm1, ""); err != nil {
			t.Errorf("third call: %v", err)
		}
	})

	t.Run("a refused call leaves an error fault for the next", func(t *testing.T) {
		f := baseFixture()
		f.Hosts[0].State, f.Hosts[0].Failed = "", true // still reported up
		f.Faults = []Fault{{Op: "evacuate", Server: vm1, Error: "error", Count: 1}}
		c, clk := newCloud(t, f)
		if err := c.Evacuate(ctx, vm1, ""); !errors.Is(err, compute.ErrInvalid) {
			t.Fatalf("evacuate from a host still up: %v", err)
		}
		if got := c.Faults(); len(got) != 1 || got[0].Count != 1 {
			t.Fatalf("fault used up by a refused call: %+v", got)
		}
		clk.Advance(2 * time.Minute)
		if err := c.Evacuate(ctx, vm1, ""); err != nil {
			t.Fatal(err)
		}
		if got := c.Faults(); len(got) != 0 {
			t.Errorf("faults left %+v", got)
		}
		clk.Advance(time.Minute)
		if s := mustGet(t, c, vm1); s.VMState != "error" || s.Host != "compute1" {
			t.Errorf("after the failed rebuild: %+v", s)
		}
	})

	t.Run("other servers are not hit", func(t *testing.T) {
		f := baseFixture()
		f.Faults = []Fault{{Op: "evacuate", Server: vm1, Error: "conflict"}}
		c, _ := newCloud(t, f)
		if err := c.Evacuate(ctx, vm2, ""); err != nil {
			t.Error(err)
		}
	})

	t.Run("bad faults are refused", func(t *testing.T) {
		c, _ := newCloud(t, baseFixture())
		err := c.InjectFault(Fault{Op: "evacuate", Server: "vm9", Error: "nevr"})
		want := "fault.server: unknown server \"vm9\" (did you mean \"vm1\"?)\n" +
			"fault.error: unknown error \"nevr\": want one of conflict, not_found, invalid, forbidden, unavailable, error, never (did you mean \"never\"?)"
		if err == nil || err.Error() != want {
			t.Errorf("got %v\nwant %s", err, want)
		}
	})
}

func uuidOf(host string) string {
	c, err := New(Fixture{Hosts: []Host{{Name: host}}}, clock.NewFake(t0))
	if err != nil {
		panic(err)
	}
	svcs, _ := c.ListServices(context.Background(), host, "")
	return svcs[0].ID
}

func TestAsyncFaults(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		op     string
		server string
		call   func(*Cloud, string) error
		task   string
		before string // vm_state before
	}{
		{op: "evacuate", server: vm1, call: func(c *Cloud, id string) error { return c.Evacuate(ctx, id, "") }, task: "rebuilding", before: "active"},
		{op: "stop", server: vm4, call: func(c *Cloud, id string) error { return c.Stop(ctx, id) }, task: "powering-off", before: "active"},
		{op: "start", server: vm4, call: func(c *Cloud, id string) error { return c.Start(ctx, id) }, task: "powering-on", before: "stopped"},
	}
	for _, tt := range tests {
		t.Run(tt.op+" never", func(t *testing.T) {
			f := baseFixture()
			f.Servers[3].VMState = "stopped"
			if tt.op != "start" {
				f.Servers[3].VMState = "active"
			}
			f.Faults = []Fault{{Op: tt.op, Server: tt.server, Error: "never"}}
			c, clk := newCloud(t, f)
			if err := tt.call(c, tt.server); err != nil {
				t.Fatal(err)
			}
			clk.Advance(24 * time.Hour)
			if s := mustGet(t, c, tt.server); s.TaskState != tt.task || s.VMState != tt.before {
				t.Errorf("never completes: %+v", s)
			}
			// Masakari resets the state of a stuck server: that ends it.
			if err := c.ResetState(ctx, tt.server, "error"); err != nil {
				t.Fatal(err)
			}
			if s := mustGet(t, c, tt.server); s.TaskState != "" || s.VMState != "error" {
				t.Errorf("after reset: %+v", s)
			}
		})
		t.Run(tt.op+" error", func(t *testing.T) {
			f := baseFixture()
			if tt.op == "start" {
				f.Servers[3].VMState = "stopped"
			}
			f.Faults = []Fault{{Op: tt.op, Server: tt.server, Error: "error", Count: 1}}
			c, clk := newCloud(t, f)
			if err := tt.call(c, tt.server); err != nil {
				t.Fatal(err)
			}
			if s := mustGet(t, c, tt.server); s.TaskState != tt.task {
				t.Errorf("accepted: %+v", s)
			}
			clk.Advance(10 * time.Second)
			s := mustGet(t, c, tt.server)
			if s.VMState != "error" || s.TaskState != "" || s.Status != "ERROR" {
				t.Errorf("after completion: %+v", s)
			}
			if tt.op == "evacuate" && s.Host != "compute1" {
				t.Errorf("failed evacuation moved the server to %s", s.Host)
			}
		})
	}
}

func TestCounters(t *testing.T) {
	f := baseFixture()
	f.Latency = Latency{}
	c, _ := newCloud(t, f)
	ctx := context.Background()
	_, _ = c.ListServers(ctx, "compute1")
	_ = c.Evacuate(ctx, vm1, "")
	_ = c.Evacuate(ctx, vm1, "") // refused: counted as a call, not an evacuation
	_ = c.Lock(ctx, vm1)
	_, _ = c.GetServer(ctx, vm1)
	id := serviceOf(t, c, "compute3").ID
	_, _ = c.UpdateService(ctx, id, compute.ServiceUpdate{Status: ptr("disabled"), ForcedDown: ptr(true)})
	got := c.Counters()
	if got.Servers[vm1]["evacuate"] != 2 || got.Evacuations[vm1] != 1 || got.Servers[vm1]["lock"] != 1 ||
		got.Servers[vm1]["get_server"] != 1 {
		t.Errorf("server counters %+v, evacuations %v", got.Servers[vm1], got.Evacuations)
	}
	if got.Hosts["compute1"]["list_servers"] != 1 || got.Hosts["compute3"]["update_service"] != 1 ||
		got.Hosts["compute3"]["disable_service"] != 1 || got.Hosts["compute3"]["force_down"] != 1 ||
		got.Hosts["compute3"]["list_services"] != 1 {
		t.Errorf("host counters %+v", got.Hosts)
	}
	if got.Ops["evacuate"] != 2 || got.Ops["update_service"] != 1 {
		t.Errorf("op counters %v", got.Ops)
	}
}

func TestSnapshotJSON(t *testing.T) {
	c, _ := newCloud(t, baseFixture())
	if err := c.Evacuate(context.Background(), vm1, ""); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(c.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Servers    []map[string]any `json:"servers"`
		Services   []map[string]any `json:"services"`
		Aggregates []map[string]any `json:"aggregates"`
		Migrations []map[string]any `json:"migrations"`
	}
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "name", "host", "vm_state", "task_state", "power_state", "locked", "metadata", "status"} {
		if _, ok := back.Servers[0][k]; !ok {
			t.Errorf("server has no %q: %v", k, back.Servers[0])
		}
	}
	if back.Servers[0]["task_state"] != "rebuilding" || back.Servers[1]["task_state"] != nil {
		t.Errorf("task states %v, %v", back.Servers[0]["task_state"], back.Servers[1]["task_state"])
	}
	for _, k := range []string{"host", "binary", "status", "state", "forced_down", "disabled_reason"} {
		if _, ok := back.Services[0][k]; !ok {
			t.Errorf("service has no %q: %v", k, back.Services[0])
		}
	}
	if len(back.Aggregates) != 2 || len(back.Migrations) != 1 {
		t.Errorf("aggregates %v migrations %v", back.Aggregates, back.Migrations)
	}
}

func TestNewValidates(t *testing.T) {
	_, err := New(Fixture{Hosts: []Host{{Name: "c1"}}, Servers: []Server{{ID: vm1, Name: "a", Host: "c2"}}}, clock.NewFake(t0))
	if err == nil || err.Error() != `servers[0].host: unknown host "c2" (did you mean "c1"?)` {
		t.Errorf("got %v", err)
	}
}

// TestConcurrentEvacuations evacuates a host's servers from many goroutines
// at once, with readers and a moving clock, under -race: the state stays
// consistent and the scheduler spreads the servers evenly.
func TestConcurrentEvacuations(t *testing.T) {
	f := Fixture{
		Hosts:   []Host{{Name: "compute1", State: "down"}, {Name: "compute2"}, {Name: "compute3"}, {Name: "compute4"}},
		Latency: Latency{API: 10, Evacuate: 1000},
	}
	const n = 60
	for i := 0; i < n; i++ {
		f.Servers = append(f.Servers, Server{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
			Name: fmt.Sprintf("vm%d", i), Host: "compute1"})
	}
	c, clk := newCloud(t, f)
	ctx := context.Background()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		claimed = map[string]bool{}
	)
	errs := make(chan error, 16*n)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < n; i++ {
				id := f.Servers[(i+w*7)%n].ID
				s, err := c.GetServer(ctx, id)
				if err != nil {
					errs <- err
					continue
				}
				if s.TaskState == "" && s.Host == "compute1" {
					// Nova accepts an evacuation of a server already
					// rebuilding: callers must check first, as
					// Masakari's engine serialises per host.
					mu.Lock()
					if claimed[id] {
						mu.Unlock()
						continue
					}
					claimed[id] = true
					mu.Unlock()
					if err := c.Evacuate(ctx, id, ""); err != nil {
						errs <- err
					}
				}
			}
		}(w)
	}
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if _, err := c.ListServers(ctx, "compute2"); err != nil {
					errs <- err
				}
				_ = c.Snapshot()
				_ = c.Counters()
				clk.Advance(time.Millisecond)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	clk.Advance(time.Minute)
	counts := c.Counters()
	perHost := map[string]int{}
	for _, s := range c.Snapshot().Servers {
		if counts.Evacuations[s.ID] != 1 {
			t.Errorf("%s evacuated %d times", s.Name, counts.Evacuations[s.ID])
		}
		if s.Host == "compute1" || s.VMState != "active" || s.TaskState != nil {
			t.Errorf("%s: %+v", s.Name, s)
		}
		perHost[s.Host]++
	}
	checkLoads(t, c)
	for _, h := range []string{"compute2", "compute3", "compute4"} {
		if perHost[h] != n/3 {
			t.Errorf("scheduler spread %v, want %d per host", perHost, n/3)
		}
	}
}

func TestExport(t *testing.T) {
	f := baseFixture()
	f.Hosts[1].HypervisorHostname = "compute2.example.org"
	f.Faults = []Fault{{Op: "stop", Server: "vm4", Error: "never", Count: 2}}
	c, clk := newCloud(t, f)
	ctx := context.Background()
	if err := c.Evacuate(ctx, vm1, ""); err != nil {
		t.Fatal(err)
	}
	if err := c.Lock(ctx, vm2); err != nil {
		t.Fatal(err)
	}
	if err := c.FailHost("compute3"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(10 * time.Second)
	exported := c.Export()
	data, err := json.Marshal(exported)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseFixture("export.json", data)
	if err != nil {
		t.Fatalf("the export does not load: %v\n%s", err, data)
	}
	c2, _ := newCloud(t, back)
	a, b := c.Snapshot(), c2.Snapshot()
	// Evacuation records and the time are history, not state.
	a.Migrations, b.Migrations, a.Time, b.Time = nil, nil, time.Time{}, time.Time{}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Errorf("state differs after export and load:\n%s\n%s", ja, jb)
	}
}

// ListServersChangedSince shows the servers an API call or its completion
// changed at or after the time, on any host, and no others.
func TestListServersChangedSince(t *testing.T) {
	c, clk := newCloud(t, baseFixture())
	ctx := context.Background()
	ids := func(since time.Time) []string {
		t.Helper()
		list, err := c.ListServersChangedSince(ctx, since)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range list {
			out = append(out, s.ID)
		}
		return out
	}
	if got := ids(t0); len(got) != 0 {
		t.Fatalf("changed before any call: %v", got)
	}
	clk.Advance(time.Second)
	asked := clk.Now()
	if err := c.Evacuate(ctx, vm1, ""); err != nil {
		t.Fatal(err)
	}
	if err := c.Lock(ctx, vm4); err != nil {
		t.Fatal(err)
	}
	if got := ids(asked); !slices.Equal(got, []string{vm1, vm4}) {
		t.Fatalf("changed since the evacuation: %v, want vm1 and vm4", got)
	}
	clk.Advance(10 * time.Second) // the evacuation completes at its due time
	done := asked.Add(100*time.Millisecond + 5*time.Second)
	list, err := c.ListServersChangedSince(ctx, done)
	if err != nil || len(list) != 1 || list[0].ID != vm1 || list[0].Host != "compute3" || list[0].TaskState != "" {
		t.Fatalf("changed since the completion: %+v %v", list, err)
	}
	if got := ids(done.Add(time.Millisecond)); len(got) != 0 {
		t.Fatalf("changed after the completion: %v", got)
	}
	// A server changed many times is listed once, in fixture order, and
	// the log of changes that lists read keeps what they need as it is
	// compacted.
	var last time.Time
	for range 300 {
		clk.Advance(time.Millisecond)
		last = clk.Now()
		if err := c.Lock(ctx, vm4); err != nil {
			t.Fatal(err)
		}
	}
	if got := ids(asked); !slices.Equal(got, []string{vm1, vm4}) {
		t.Fatalf("changed since the evacuation, after 300 locks: %v, want vm1 and vm4", got)
	}
	if got := ids(last); !slices.Equal(got, []string{vm4}) {
		t.Fatalf("changed since the last lock: %v, want vm4", got)
	}
}
