//go:build novabed

// Tests against a real Nova: the bed of .ci/novabed (Debian's Nova with two
// fake hypervisors on loopback), which must be running (setup.sh, then
// start.sh). Run with
//
//	go test -tags novabed -run NovaBed -v ./engine/compute/nova/
//
// testbed.Nova finds the bed: KAIFUKU_NOVABED names its directory (default
// .ci/novabed; a relative path is taken from the module root, not from this
// package's directory); KAIFUKU_NOVABED_NOVA and KAIFUKU_NOVABED_KEYSTONE
// its endpoints (default 127.0.0.1:8774/v2.1 and 127.0.0.1:5000/v3). With
// the tag set, an unreachable bed fails the tests.
package nova_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/builtin"
	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/kaifuku-ha/kaifuku/engine/compute/nova"
	"github.com/kaifuku-ha/kaifuku/engine/testbed"
)

const (
	bedImage  = "155d900f-4e14-4e4c-a73d-069cbf4541e6"
	bedFlavor = "1"
	bedToken  = "admin:admin"
)

// novaBed is the running bed, with the calls the tests make to it.
type novaBed testbed.NovaBed

// theBed finds the running bed or fails.
func theBed(t *testing.T) novaBed {
	t.Helper()
	return novaBed(testbed.Nova(t))
}

// api is a raw call to the bed's Nova, for what the driver does not do
// (boot, delete, create aggregates).
func (b novaBed) api(t *testing.T, method, path string, body any, mv string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, b.Nova+path, rd)
	req.Header.Set("X-Auth-Token", bedToken)
	req.Header.Set("OpenStack-API-Version", "compute "+mv)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func (b novaBed) compute(t *testing.T, action, host string) {
	t.Helper()
	out, err := exec.Command("bash", filepath.Join(b.Dir, "compute.sh"), action, host).CombinedOutput()
	if err != nil {
		t.Fatalf("compute.sh %s %s: %v\n%s", action, host, err, out)
	}
}

// boot creates servers on host and waits until they are ACTIVE; they are
// deleted when the test ends.
func (b novaBed) boot(t *testing.T, c *nova.Cloud, host string, md map[string]string, names ...string) []string {
	t.Helper()
	var ids []string
	for _, name := range names {
		code, out := b.api(t, http.MethodPost, "/servers", map[string]any{"server": map[string]any{
			"name": name, "imageRef": bedImage, "flavorRef": bedFlavor, "networks": "none",
			"host": host, "metadata": md,
		}}, "2.74")
		if code != http.StatusAccepted {
			t.Fatalf("boot %s: %d %s", name, code, out)
		}
		var r struct {
			Server struct {
				ID string `json:"id"`
			} `json:"server"`
		}
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatal(err)
		}
		id := r.Server.ID
		ids = append(ids, id)
		t.Cleanup(func() { b.api(t, http.MethodDelete, "/servers/"+id, nil, "2.53") })
	}
	for _, id := range ids {
		waitServer(t, c, id, "ACTIVE", host, 90*time.Second)
	}
	return ids
}

func waitServer(t *testing.T, c compute.Cloud, id, status, host string, limit time.Duration) compute.Server {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		s, err := c.GetServer(context.Background(), id)
		if err == nil && s.Status == status && (host == "" || s.Host == host) && s.TaskState == "" {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("server %s not %s on %q after %v: %+v %v", id, status, host, limit, s, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func bedLogins(b novaBed) []struct {
	name string
	c    conf.Nova
} {
	return []struct {
		name string
		c    conf.Nova
	}{
		{"keystone", conf.Nova{AuthURL: b.Keystone, Username: "admin", Password: "bed-password", ProjectName: "admin",
			RegionName: "RegionOne", Interface: "public", Timeout: 90 * time.Second}},
		{"token", conf.Nova{Token: bedToken, Endpoint: b.Nova, Timeout: 90 * time.Second}},
	}
}

// Every operation of the driver, and every error kind, on the real Nova.
func TestNovaBedOperations(t *testing.T) {
	b := theBed(t)
	ctx := context.Background()
	for _, lg := range bedLogins(b) {
		t.Run(lg.name, func(t *testing.T) {
			log, logs := testLog()
			c, err := nova.New(ctx, lg.c, log)
			if err != nil {
				t.Fatal(err)
			}
			ids := b.boot(t, c, "compute1", map[string]string{"HA_Enabled": "True"}, "kaifuku-ops-1-"+lg.name, "kaifuku-ops-2-"+lg.name)
			list, err := c.ListServers(ctx, "compute1")
			if err != nil {
				t.Fatal(err)
			}
			found := 0
			for _, s := range list {
				if s.ID == ids[0] || s.ID == ids[1] {
					found++
					if s.Host != "compute1" || s.HypervisorHostname != "compute1" || s.VMState != "active" ||
						s.PowerState != compute.PowerRunning || s.Metadata["HA_Enabled"] != "True" || s.TenantID != "admin" {
						t.Fatalf("listed server: %+v", s)
					}
				}
			}
			if found != 2 {
				t.Fatalf("compute1 lists %d of the 2 servers: %+v", found, list)
			}
			_, err = c.GetServer(ctx, uuid.NewString())
			mustKind(t, err, compute.ErrNotFound, "could not be found")

			svcs, err := c.ListServices(ctx, "compute1", "nova-compute")
			if err != nil || len(svcs) != 1 || svcs[0].State != "up" || len(svcs[0].ID) != 36 {
				t.Fatalf("services of compute1: %+v %v", svcs, err)
			}
			svc := svcs[0]
			disabled, enabled := "disabled", "enabled"
			up, err := c.UpdateService(ctx, svc.ID, compute.ServiceUpdate{Status: &disabled, DisabledReason: "kaifuku bed test"})
			if err != nil || up.Status != "disabled" || up.DisabledReason != "kaifuku bed test" {
				t.Fatalf("disable: %+v %v", up, err)
			}
			up, err = c.UpdateService(ctx, svc.ID, compute.ServiceUpdate{Status: &enabled})
			if err != nil || up.Status != "enabled" {
				t.Fatalf("enable: %+v %v", up, err)
			}
			_, err = c.UpdateService(ctx, "not-a-uuid", compute.ServiceUpdate{Status: &enabled})
			mustKind(t, err, compute.ErrInvalid, "")

			// forbidden: os-services is for administrators
			user, err := nova.New(ctx, conf.Nova{Token: "user:user", Endpoint: b.Nova}, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = user.ListServices(ctx, "", "nova-compute")
			mustKind(t, err, compute.ErrForbidden, "")

			a, bID := ids[0], ids[1]
			if err := c.Lock(ctx, a); err != nil {
				t.Fatal(err)
			}
			if s, _ := c.GetServer(ctx, a); !s.Locked {
				t.Fatal("not locked")
			}
			if err := c.Unlock(ctx, a); err != nil {
				t.Fatal(err)
			}
			if err := c.Stop(ctx, a); err != nil {
				t.Fatal(err)
			}
			waitServer(t, c, a, "SHUTOFF", "compute1", 60*time.Second)
			mustKind(t, c.Stop(ctx, a), compute.ErrConflict, "")
			if err := c.Start(ctx, a); err != nil {
				t.Fatal(err)
			}
			waitServer(t, c, a, "ACTIVE", "compute1", 60*time.Second)
			if err := c.ResetState(ctx, bID, "error"); err != nil {
				t.Fatal(err)
			}
			if s, _ := c.GetServer(ctx, bID); s.VMState != "error" {
				t.Fatalf("reset to error: %+v", s)
			}
			if err := c.ResetState(ctx, bID, "active"); err != nil {
				t.Fatal(err)
			}
			// compute1 is up: Nova refuses to evacuate from it
			err = c.Evacuate(ctx, a, "compute2")
			mustKind(t, err, compute.ErrInvalid, "still in use")
			mustKind(t, c.Evacuate(ctx, uuid.NewString(), ""), compute.ErrNotFound, "")

			name := "kaifuku-agg-" + lg.name
			code, out := b.api(t, http.MethodPost, "/os-aggregates", map[string]any{"aggregate": map[string]any{"name": name}}, "2.53")
			if code != http.StatusOK {
				t.Fatalf("create aggregate: %d %s", code, out)
			}
			var agg struct {
				Aggregate struct {
					ID int `json:"id"`
				} `json:"aggregate"`
			}
			_ = json.Unmarshal(out, &agg)
			id := agg.Aggregate.ID
			t.Cleanup(func() {
				b.api(t, http.MethodPost, fmt.Sprintf("/os-aggregates/%d/action", id), map[string]any{"remove_host": map[string]any{"host": "compute2"}}, "2.53")
				b.api(t, http.MethodDelete, fmt.Sprintf("/os-aggregates/%d", id), nil, "2.53")
			})
			if err := c.AddHostToAggregate(ctx, id, "compute2"); err != nil {
				t.Fatal(err)
			}
			mustKind(t, c.AddHostToAggregate(ctx, id, "compute2"), compute.ErrConflict, "")
			mustKind(t, c.AddHostToAggregate(ctx, id, "no-such-host"), compute.ErrNotFound, "")
			aggs, err := c.ListAggregates(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ok := false
			for _, g := range aggs {
				ok = ok || (g.ID == id && g.Name == name && strings.Join(g.Hosts, ",") == "compute2")
			}
			if !ok {
				t.Fatalf("aggregates: %+v", aggs)
			}
			if strings.Contains(logs.String(), "bed-password") {
				t.Fatal("password in the logs")
			}
		})
	}
}

// A whole host recovery by kaifuku's host_auto flow on the real Nova: the
// failed compute1's HA server ends ACTIVE on compute2. Measured twice:
// waiting for Nova to see the host down, and forcing it down.
func TestNovaBedHostRecovery(t *testing.T) {
	b := theBed(t)
	ctx := context.Background()
	logins := bedLogins(b)
	for i, forceDown := range []bool{false, true} {
		lg := logins[i]
		t.Run(fmt.Sprintf("force_down_service=%v/%s", forceDown, lg.name), func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "kaifuku.conf")
			ini := fmt.Sprintf("[host_failure]\nforce_down_service = %v\n", forceDown)
			if err := os.WriteFile(file, []byte(ini), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := conf.Load(file)
			if err != nil {
				t.Fatal(err)
			}
			l := logrus.New()
			l.SetOutput(io.Discard)
			if testing.Verbose() {
				l.SetOutput(os.Stderr)
			}
			c, err := nova.New(ctx, lg.c, logrus.NewEntry(l))
			if err != nil {
				t.Fatal(err)
			}
			ids := b.boot(t, c, "compute1", map[string]string{"HA_Enabled": "True"}, fmt.Sprintf("kaifuku-ha-%v", forceDown))

			reg := engine.NewRegistry()
			builtin.Register(reg, c, cfg)
			flow, err := engine.Build(reg, cfg, conf.FlowHostAuto)
			if err != nil {
				t.Fatal(err)
			}

			b.compute(t, "stop", "compute1")
			recovered := false
			t.Cleanup(func() {
				if !recovered {
					b.compute(t, "recover", "compute1")
				}
			})
			start := time.Now()
			runner := &engine.Runner{Clock: clock.Real{}, Log: l}
			nu := uuid.NewString()
			res := runner.Run(ctx, engine.Request{
				NotificationUUID: nu, Flow: flow,
				Store: engine.Store{engine.KeyHostName: "compute1", engine.KeyNotificationUUID: nu},
			})
			if res.Status != "finished" || res.Err != nil {
				for _, r := range res.Tasks {
					t.Logf("task %s: %s %v", r.Name, r.State, r.Progress)
				}
				t.Fatalf("host_auto flow: %s %v", res.Status, res.Err)
			}
			for _, id := range ids {
				waitServer(t, c, id, "ACTIVE", "compute2", 120*time.Second)
			}
			ttr := time.Since(start)
			t.Logf("time to recovery, 1 server, force_down_service=%v: %.1f s", forceDown, ttr.Seconds())
			if forceDown && ttr > 30*time.Second {
				t.Errorf("forced down, recovery took %v", ttr)
			}
			svcs, err := c.ListServices(ctx, "compute1", "nova-compute")
			if err != nil || len(svcs) != 1 || svcs[0].Status != "disabled" || svcs[0].State != "down" ||
				svcs[0].ForcedDown != forceDown {
				t.Fatalf("compute1 after recovery: %+v %v", svcs, err)
			}
			b.compute(t, "recover", "compute1")
			recovered = true
			svcs, err = c.ListServices(ctx, "compute1", "nova-compute")
			if err != nil || len(svcs) != 1 || svcs[0].Status != "enabled" || svcs[0].ForcedDown {
				t.Fatalf("compute1 after compute.sh recover: %+v %v", svcs, errors.Join(err))
			}
		})
	}
}
