package nova_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/builtin"
	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/kaifuku-ha/kaifuku/engine/compute/nova"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simcloud"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
	"github.com/kaifuku-ha/kaifuku/engine/daemon/daemontest"
)

const (
	password    = "pa55-w0rd-never-logged"
	staticToken = "st4tic-t0ken-never-logged"
	srvA        = "11111111-1111-4111-8111-111111111111"
	srvB        = "22222222-2222-4222-8222-222222222222"
	srvC        = "33333333-3333-4333-8333-333333333333"
)

func fixture() simulated.Fixture {
	return simulated.Fixture{
		Hosts: []simulated.Host{
			{Name: "compute1", Aggregates: []string{"ha"}},
			{Name: "compute2", Aggregates: []string{"ha"}},
			{Name: "compute3"},
		},
		Servers: []simulated.Server{
			{ID: srvA, Name: "web-1", Host: "compute1", Metadata: map[string]string{"HA_Enabled": "True"}, TenantID: "demo", UserID: "alice"},
			{ID: srvB, Name: "db-1", Host: "compute1", VMState: "stopped"},
			{ID: srvC, Name: "app-1", Host: "compute2"},
		},
		// work behind accepted actions stays pending for the whole test
		Latency:         simulated.Latency{Stop: 60000, Start: 60000, Evacuate: 60000},
		ServiceDownTime: 1,
	}
}

// testLog collects everything the driver logs, at debug level.
func testLog() (*logrus.Entry, *daemontest.Buffer) {
	b := &daemontest.Buffer{}
	l := logrus.New()
	l.SetOutput(b)
	l.SetLevel(logrus.DebugLevel)
	return logrus.NewEntry(l), b
}

type bed struct {
	url   string
	cloud *simulated.Cloud
}

func startSimcloud(t testing.TB, f simulated.Fixture, opts simcloud.Options) bed {
	t.Helper()
	cloud, err := simulated.New(f, clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(simcloud.New(cloud, opts))
	t.Cleanup(srv.Close)
	return bed{url: srv.URL, cloud: cloud}
}

func (b bed) post(t *testing.T, path, body string) {
	t.Helper()
	resp, err := http.Post(b.url+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
	}
}

func (b bed) requests(t *testing.T) map[string]int {
	t.Helper()
	resp, err := http.Get(b.url + "/sim/requests")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Requests map[string]int `json:"requests"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Requests
}

// logins are the two ways to reach Nova.
var logins = []struct {
	name string
	conf func(url string) conf.Nova
}{
	{"keystone", func(url string) conf.Nova {
		return conf.Nova{AuthURL: url + "/v3", Username: "admin", Password: password, ProjectName: "admin",
			RegionName: simcloud.Region, Interface: "internal", Timeout: 5 * time.Second}
	}},
	{"token", func(url string) conf.Nova {
		return conf.Nova{Token: staticToken, Endpoint: url + "/v2.1", Timeout: 5 * time.Second}
	}},
}

func mustKind(t *testing.T, err, kind error, msg string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("error %v: want kind %q", err, kind)
	}
	if msg != "" && !strings.Contains(err.Error(), msg) {
		t.Fatalf("error %q does not keep Nova's message %q", err, msg)
	}
}

func TestDriverAgainstSimcloud(t *testing.T) {
	for _, lg := range logins {
		t.Run(lg.name, func(t *testing.T) {
			b := startSimcloud(t, fixture(), simcloud.Options{Password: password, Tokens: []string{staticToken}})
			log, logs := testLog()
			ctx := context.Background()
			c, err := nova.New(ctx, lg.conf(b.url), log, nova.WithRetries(3, time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			if c.Endpoint() != b.url+"/v2.1/" {
				t.Fatalf("endpoint %q", c.Endpoint())
			}
			var errs []error
			check := func(err error) error {
				if err != nil {
					errs = append(errs, err)
				}
				return err
			}

			// servers
			list, err := c.ListServers(ctx, "compute1")
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 2 || list[0].ID != srvA || list[1].ID != srvB {
				t.Fatalf("servers on compute1: %+v", list)
			}
			a := list[0]
			if a.Host != "compute1" || a.HypervisorHostname != "compute1" || a.VMState != "active" || a.Status != "ACTIVE" ||
				a.PowerState != compute.PowerRunning || a.TaskState != "" || a.Metadata["HA_Enabled"] != "True" ||
				a.TenantID != "demo" || a.UserID != "alice" || a.Locked {
				t.Fatalf("server a: %+v", a)
			}
			if list[1].VMState != "stopped" || list[1].Status != "SHUTOFF" || list[1].PowerState != compute.PowerShutdown {
				t.Fatalf("server b: %+v", list[1])
			}
			if none, err := c.ListServers(ctx, "compute3"); err != nil || len(none) != 0 || none == nil {
				t.Fatalf("servers on compute3: %#v, %v", none, err)
			}
			got, err := c.GetServer(ctx, srvA)
			if err != nil || got.ID != srvA || got.Name != "web-1" {
				t.Fatalf("get server: %+v, %v", got, err)
			}
			_, err = c.GetServer(ctx, "44444444-4444-4444-8444-444444444444")
			mustKind(t, check(err), compute.ErrNotFound, "Instance 44444444-4444-4444-8444-444444444444 could not be found.")

			// services
			svcs, err := c.ListServices(ctx, "compute1", "nova-compute")
			if err != nil || len(svcs) != 1 {
				t.Fatalf("services: %+v, %v", svcs, err)
			}
			s1 := svcs[0]
			if s1.Host != "compute1" || s1.Binary != "nova-compute" || s1.Status != "enabled" || s1.State != "up" || len(s1.ID) != 36 {
				t.Fatalf("service: %+v", s1)
			}
			if all, err := c.ListServices(ctx, "", ""); err != nil || len(all) != 3 {
				t.Fatalf("all services: %+v, %v", all, err)
			}
			disabled, enabled, yes, no := "disabled", "enabled", true, false
			sv, err := c.UpdateService(ctx, s1.ID, compute.ServiceUpdate{Status: &disabled, DisabledReason: "host failed"})
			if err != nil || sv.Status != "disabled" || sv.DisabledReason != "host failed" {
				t.Fatalf("disable: %+v, %v", sv, err)
			}
			sv, err = c.UpdateService(ctx, s1.ID, compute.ServiceUpdate{Status: &enabled})
			if err != nil || sv.Status != "enabled" || sv.DisabledReason != "" {
				t.Fatalf("enable: %+v, %v", sv, err)
			}
			sv, err = c.UpdateService(ctx, s1.ID, compute.ServiceUpdate{ForcedDown: &yes})
			if err != nil || !sv.ForcedDown || sv.State != "down" {
				t.Fatalf("force down: %+v, %v", sv, err)
			}
			// forced_down false must reach Nova (services.UpdateOpts drops it)
			sv, err = c.UpdateService(ctx, s1.ID, compute.ServiceUpdate{ForcedDown: &no})
			if err != nil || sv.ForcedDown || sv.State != "up" {
				t.Fatalf("force up: %+v, %v", sv, err)
			}
			if n := b.cloud.Counters().Ops["force_up"]; n != 1 {
				t.Fatalf("force_up calls: %d", n)
			}
			_, err = c.UpdateService(ctx, "not-a-uuid", compute.ServiceUpdate{Status: &enabled})
			mustKind(t, check(err), compute.ErrInvalid, "Invalid uuid not-a-uuid")
			_, err = c.UpdateService(ctx, "55555555-5555-4555-8555-555555555555", compute.ServiceUpdate{Status: &enabled})
			mustKind(t, check(err), compute.ErrNotFound, "could not be found")
			_, err = c.UpdateService(ctx, s1.ID, compute.ServiceUpdate{})
			mustKind(t, check(err), compute.ErrInvalid, "nothing to change")

			// lock, reset state, stop and start
			if err := c.Lock(ctx, srvA); err != nil {
				t.Fatal(err)
			}
			if s, _ := c.GetServer(ctx, srvA); !s.Locked {
				t.Fatal("lock did not lock")
			}
			if err := c.Unlock(ctx, srvA); err != nil {
				t.Fatal(err)
			}
			if s, _ := c.GetServer(ctx, srvA); s.Locked {
				t.Fatal("unlock did not unlock")
			}
			mustKind(t, check(c.Lock(ctx, "44444444-4444-4444-8444-444444444444")), compute.ErrNotFound, "could not be found")
			if err := c.ResetState(ctx, srvA, "error"); err != nil {
				t.Fatal(err)
			}
			if s, _ := c.GetServer(ctx, srvA); s.VMState != "error" || s.Status != "ERROR" {
				t.Fatalf("after reset to error: %+v", s)
			}
			if err := c.ResetState(ctx, srvA, "active"); err != nil {
				t.Fatal(err)
			}
			mustKind(t, check(c.ResetState(ctx, srvA, "stopped")), compute.ErrInvalid, "not active or error")
			if err := c.Stop(ctx, srvA); err != nil {
				t.Fatal(err)
			}
			if s, _ := c.GetServer(ctx, srvA); s.TaskState != "powering-off" {
				t.Fatalf("after stop: %+v", s)
			}
			mustKind(t, check(c.Stop(ctx, srvA)), compute.ErrConflict, "while it is in task_state powering-off")
			if err := c.Start(ctx, srvB); err != nil {
				t.Fatal(err)
			}
			mustKind(t, check(c.Start(ctx, srvC)), compute.ErrConflict, "vm_state active")

			// evacuation: refused while compute1 is up, then accepted
			err = c.Evacuate(ctx, srvC, "")
			mustKind(t, check(err), compute.ErrInvalid, "Compute service of compute2 is still in use.")
			if _, err := c.UpdateService(ctx, s1.ID, compute.ServiceUpdate{ForcedDown: &yes}); err != nil {
				t.Fatal(err)
			}
			mustKind(t, check(c.Evacuate(ctx, srvA, "compute1")), compute.ErrInvalid, "The target host can't be the same one.")
			mustKind(t, check(c.Evacuate(ctx, srvA, "nohost")), compute.ErrNotFound, "nohost")
			if err := c.ResetState(ctx, srvA, "active"); err != nil { // abandon the stop
				t.Fatal(err)
			}
			if err := c.Evacuate(ctx, srvA, "compute3"); err != nil {
				t.Fatalf("evacuate to compute3: %v", err)
			}
			if s, _ := c.GetServer(ctx, srvA); s.Host != "compute3" && s.TaskState != "rebuilding" {
				t.Fatalf("after evacuate: %+v", s)
			}
			if err := c.ResetState(ctx, srvB, "active"); err != nil {
				t.Fatal(err)
			}
			if err := c.Evacuate(ctx, srvB, ""); err != nil {
				t.Fatalf("evacuate, scheduler's choice: %v", err)
			}
			if ev := b.cloud.Counters().Evacuations; ev[srvA] != 1 || ev[srvB] != 1 {
				t.Fatalf("evacuations accepted: %v", ev)
			}

			// aggregates
			aggs, err := c.ListAggregates(ctx)
			if err != nil || len(aggs) != 1 || aggs[0].ID != 1 || aggs[0].Name != "ha" || strings.Join(aggs[0].Hosts, ",") != "compute1,compute2" {
				t.Fatalf("aggregates: %+v, %v", aggs, err)
			}
			if err := c.AddHostToAggregate(ctx, 1, "compute3"); err != nil {
				t.Fatal(err)
			}
			mustKind(t, check(c.AddHostToAggregate(ctx, 1, "compute3")), compute.ErrConflict, "already has host compute3")
			mustKind(t, check(c.AddHostToAggregate(ctx, 7, "compute3")), compute.ErrNotFound, "Aggregate 7 could not be found.")

			// forbidden, and 5xx: retried for reads, not for actions
			if err := b.cloud.InjectFault(simulated.Fault{Op: "get_server", Server: srvC, Error: "forbidden", Count: 1}); err != nil {
				t.Fatal(err)
			}
			_, err = c.GetServer(ctx, srvC)
			mustKind(t, check(err), compute.ErrForbidden, "403 Forbidden")
			before := b.cloud.Counters().Ops["list_servers"]
			if err := b.cloud.InjectFault(simulated.Fault{Op: "list_servers", Error: "unavailable", Count: 2}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.ListServers(ctx, "compute2"); err != nil {
				t.Fatalf("list servers after two 500s: %v", err)
			}
			if n := b.cloud.Counters().Ops["list_servers"] - before; n != 3 {
				t.Fatalf("list_servers calls with two 500s: %d, want 3", n)
			}
			if err := b.cloud.InjectFault(simulated.Fault{Op: "lock", Error: "unavailable", Count: 1}); err != nil {
				t.Fatal(err)
			}
			mustKind(t, check(c.Lock(ctx, srvC)), compute.ErrUnavailable, "500")
			if n := b.cloud.Counters().Servers[srvC]["lock"]; n != 1 {
				t.Fatalf("lock was sent %d times after a 500, want 1 (no blind retry)", n)
			}
			if err := b.cloud.InjectFault(simulated.Fault{Op: "list_servers", Error: "unavailable"}); err != nil {
				t.Fatal(err)
			}
			_, err = c.ListServers(ctx, "compute2")
			mustKind(t, check(err), compute.ErrUnavailable, "Injected fault")
			b.cloud.ClearFaults()

			if lg.name == "keystone" {
				// an expired token: gophercloud logs in again and repeats the call
				b.post(t, "/sim/tokens/revoke", "")
				if _, err := c.GetServer(ctx, srvC); err != nil {
					t.Fatalf("call after the token was revoked: %v", err)
				}
				if n := b.requests(t)["POST /v3/auth/tokens"]; n != 2 {
					t.Fatalf("logins: %d, want 2", n)
				}
			}

			for _, e := range append(errs, errors.New(logs.String())) {
				for _, secret := range []string{password, staticToken} {
					if strings.Contains(e.Error(), secret) {
						t.Fatalf("secret in %q", e)
					}
				}
			}
			if !strings.Contains(logs.String(), "retrying") {
				t.Fatalf("retries were not logged: %s", logs)
			}
		})
	}
}

func TestDriverUnauthorized(t *testing.T) {
	b := startSimcloud(t, fixture(), simcloud.Options{Password: password, Tokens: []string{staticToken}})
	log, logs := testLog()
	ctx := context.Background()

	wrong := "wr0ng-" + password
	_, err := nova.New(ctx, conf.Nova{AuthURL: b.url + "/v3", Username: "admin", Password: wrong, ProjectName: "admin"}, log)
	mustKind(t, err, compute.ErrForbidden, "401")
	if !strings.Contains(err.Error(), "keystone login at "+b.url+"/v3 as admin") {
		t.Fatalf("login error does not say where and who: %v", err)
	}

	badToken := "bad-" + staticToken
	c, err := nova.New(ctx, conf.Nova{Token: badToken, Endpoint: b.url + "/v2.1"}, log)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListServers(ctx, "compute1")
	mustKind(t, err, compute.ErrForbidden, "requires authentication")

	for _, s := range []string{err.Error(), logs.String()} {
		if strings.Contains(s, wrong) || strings.Contains(s, badToken) {
			t.Fatalf("secret in %q", s)
		}
	}
}

func TestDriverConfigErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		c    conf.Nova
		want string
	}{
		{conf.Nova{}, "[nova] auth_url: set auth_url"},
		{conf.Nova{Token: "t"}, "[nova] endpoint: required with token"},
		{conf.Nova{AuthURL: "http://127.0.0.1:1/v3"}, "[nova] username: required"},
		{conf.Nova{Token: "t", Endpoint: "http://x", CAFile: "/nonexistent/ca.pem"}, "[nova] cafile:"},
	} {
		_, err := nova.New(ctx, tc.c, nil)
		var ce *conf.Error
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want conf.Error %q", tc.c, err, tc.want)
		}
	}
}

// A closed port: reads are retried with back-off (on the injected clock),
// then fail as unavailable; actions that could not even connect are retried
// too, since they never reached Nova.
func TestDriverConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	fake := clock.NewFake(time.Unix(0, 0))
	log, logs := testLog()
	c, err := nova.New(context.Background(), conf.Nova{Token: staticToken, Endpoint: "http://" + addr + "/v2.1"}, log,
		nova.WithClock(fake), nova.WithRetries(4, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListServers(context.Background(), "compute1")
	mustKind(t, err, compute.ErrUnavailable, "connection refused")
	if waited := fake.Now().Sub(time.Unix(0, 0)); waited != 7*time.Second {
		t.Fatalf("back-off waited %v, want 1+2+4 s", waited)
	}
	mustKind(t, c.Evacuate(context.Background(), srvA, ""), compute.ErrUnavailable, "connection refused")
	if n := strings.Count(logs.String(), "retrying"); n != 6 {
		t.Fatalf("%d retries logged, want 3 per call:\n%s", n, logs)
	}
	if strings.Contains(logs.String()+err.Error(), staticToken) {
		t.Fatal("token leaked")
	}
}

// A Nova slower than [nova] timeout: the request is abandoned.
func TestDriverTimeout(t *testing.T) {
	f := fixture()
	f.Latency.API = 2000
	b := startSimcloud(t, f, simcloud.Options{Tokens: []string{staticToken}})
	c, err := nova.New(context.Background(), conf.Nova{Token: staticToken, Endpoint: b.url + "/v2.1", Timeout: 100 * time.Millisecond}, nil,
		nova.WithRetries(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = c.Lock(context.Background(), srvA)
	mustKind(t, err, compute.ErrUnavailable, "")
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Fatalf("timed out after %v", d)
	}
}

// The evacuate body at 2.53 must not carry onSharedStorage, which Nova
// refuses; simcloud refuses it as Nova does.
func TestEvacuateBody(t *testing.T) {
	b := startSimcloud(t, fixture(), simcloud.Options{Tokens: []string{staticToken}})
	send := func(body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, b.url+"/v2.1/servers/"+srvA+"/action", strings.NewReader(body))
		req.Header.Set("X-Auth-Token", staticToken)
		req.Header.Set("X-OpenStack-Nova-API-Version", nova.Microversion)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}
	code, body := send(`{"evacuate": {"host": "compute2", "onSharedStorage": false}}`)
	if code != http.StatusBadRequest || !strings.Contains(body, `"badRequest"`) || !strings.Contains(body, "onSharedStorage") {
		t.Fatalf("stock gophercloud body: %d %s", code, body)
	}
}

// kaifuku's host_auto flow through the driver and simcloud over HTTP: the
// same path as `[compute] driver = nova` against `kaifuku simcloud`.
func TestHostRecoveryThroughSimcloud(t *testing.T) {
	f := fixture()
	f.Latency = simulated.Latency{API: 1, Evacuate: 200, Stop: 100, Start: 100}
	b := startSimcloud(t, f, simcloud.Options{Password: password})
	ctx := context.Background()
	c, err := nova.New(ctx, conf.Nova{AuthURL: b.url + "/v3", Username: "admin", Password: password, ProjectName: "admin"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "kaifuku.conf")
	if err := os.WriteFile(file, []byte("[host_failure]\nforce_down_service = true\n[DEFAULT]\nverify_interval = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := conf.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	reg := engine.NewRegistry()
	builtin.Register(reg, c, cfg)
	flow, err := engine.Build(reg, cfg, conf.FlowHostAuto)
	if err != nil {
		t.Fatal(err)
	}
	b.post(t, "/sim/hosts/compute1/fail", "")
	l := logrus.New()
	l.SetOutput(io.Discard)
	res := (&engine.Runner{Clock: clock.Real{}, Log: l}).Run(ctx, engine.Request{
		NotificationUUID: "6d0b3c3e-8a3c-4d8e-9d47-2f1c7a5b9e10", Flow: flow,
		Store: engine.Store{engine.KeyHostName: "compute1", engine.KeyNotificationUUID: "6d0b3c3e-8a3c-4d8e-9d47-2f1c7a5b9e10"},
	})
	if res.Status != "finished" || res.Err != nil {
		t.Fatalf("host_auto: %s %v %+v", res.Status, res.Err, res.Tasks)
	}
	snap := b.cloud.Snapshot()
	for _, s := range snap.Servers {
		if s.ID == srvC {
			continue
		}
		if s.Host == "compute1" {
			t.Errorf("server %s still on compute1: %+v", s.Name, s)
		}
	}
	ev := b.cloud.Counters().Evacuations
	if ev[srvA] != 1 || ev[srvB] != 1 {
		t.Fatalf("evacuations: %v", ev)
	}
	svc := snap.Services[0]
	if svc.Status != "disabled" || !svc.ForcedDown {
		t.Fatalf("compute1's service: %+v", svc)
	}
}

// Nova paginates long server lists ([api] max_limit): the driver follows the
// "next" links.
func TestListServersFollowsPages(t *testing.T) {
	b := startSimcloud(t, fixture(), simcloud.Options{Tokens: []string{staticToken}, MaxLimit: 1})
	c, err := nova.New(context.Background(), conf.Nova{Token: staticToken, Endpoint: b.url + "/v2.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	list, err := c.ListServers(context.Background(), "compute1")
	if err != nil || len(list) != 2 || list[0].ID != srvA || list[1].ID != srvB {
		t.Fatalf("servers: %+v %v", list, err)
	}
	if n := b.requests(t)["GET /servers/detail"]; n != 3 {
		t.Fatalf("%d page requests, want 3 (two full pages and an empty one)", n)
	}
}

// HTTPS: verified against [nova] cafile, refused without it, accepted
// unverified with insecure.
func TestDriverTLS(t *testing.T) {
	cloud, err := simulated.New(fixture(), clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(simcloud.New(cloud, simcloud.Options{Password: password}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBlock := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBlock, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	login := conf.Nova{AuthURL: srv.URL + "/v3", Username: "admin", Password: password, ProjectName: "admin"}

	withCA := login
	withCA.CAFile = ca
	c, err := nova.New(ctx, withCA, nil)
	if err != nil {
		t.Fatalf("with cafile: %v", err)
	}
	if !strings.HasPrefix(c.Endpoint(), "https://") {
		t.Fatalf("endpoint %s", c.Endpoint())
	}
	if _, err := c.ListServers(ctx, "compute1"); err != nil {
		t.Fatal(err)
	}

	fake := clock.NewFake(time.Unix(0, 0))
	_, err = nova.New(ctx, login, nil, nova.WithClock(fake))
	mustKind(t, err, compute.ErrUnavailable, "certificate")
	if !fake.Now().Equal(time.Unix(0, 0)) {
		t.Fatalf("an untrusted certificate was retried (waited %v)", fake.Now().Sub(time.Unix(0, 0)))
	}

	insecure := login
	insecure.Insecure = true
	if _, err := nova.New(ctx, insecure, nil); err != nil {
		t.Fatalf("insecure: %v", err)
	}

	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := login
	bad.CAFile = notPEM
	_, err = nova.New(ctx, bad, nil)
	var ce *conf.Error
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("bad cafile: %v", err)
	}
}

// ListServersChangedSince is Nova's changes-since filter: simcloud serves it
// from the simulated cloud, the driver sends it in RFC 3339.
func TestListServersChangedSinceThroughSimcloud(t *testing.T) {
	b := startSimcloud(t, fixture(), simcloud.Options{Tokens: []string{staticToken}})
	ctx := context.Background()
	c, err := nova.New(ctx, conf.Nova{Token: staticToken, Endpoint: b.url + "/v2.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-time.Second)
	if list, err := c.ListServersChangedSince(ctx, before); err != nil || len(list) != 0 {
		t.Fatalf("changed before any call: %+v %v", list, err)
	}
	if err := c.Lock(ctx, srvC); err != nil {
		t.Fatal(err)
	}
	list, err := c.ListServersChangedSince(ctx, before)
	if err != nil || len(list) != 1 || list[0].ID != srvC || !list[0].Locked || list[0].Host != "compute2" {
		t.Fatalf("changed since the lock: %+v %v", list, err)
	}
	if list, err := c.ListServersChangedSince(ctx, time.Now().Add(time.Hour)); err != nil || len(list) != 0 {
		t.Fatalf("changed in the future: %+v %v", list, err)
	}
	// host narrows it, as in Nova; a malformed time is a 400
	for q, want := range map[string]int{
		"changes-since=" + url.QueryEscape(before.Format(time.RFC3339Nano)) + "&host=compute1": http.StatusOK,
		"changes-since=yesterday": http.StatusBadRequest,
	} {
		req, _ := http.NewRequest(http.MethodGet, b.url+"/v2.1/servers/detail?all_tenants=True&"+q, nil)
		req.Header.Set("X-Auth-Token", staticToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Servers []json.RawMessage `json:"servers"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != want || len(body.Servers) != 0 {
			t.Fatalf("%s: %d with %d servers, want %d and none", q, resp.StatusCode, len(body.Servers), want)
		}
	}
}
