package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine/daemon"
	"github.com/kaifuku-ha/kaifuku/engine/daemon/daemontest"
)

// The daemon runs in the test process here, composed as kaifuku serve
// composes it, on a SQLite file and a simulated cloud; the command's own
// tests still drive the built binary.

// newEnv is the daemon of the package's tests: a host failure on the
// simulated cloud (daemontest.HostDownFixture) whose evacuations take
// evacuateMS, and a configuration that ends with extra.
func newEnv(t *testing.T, evacuateMS int, extra string) *daemontest.Env {
	t.Helper()
	return daemontest.NewEnv(t, daemontest.HostDownFixture(evacuateMS), extra)
}

// Start, a host failure recovered on the simulated cloud, and a clean stop.
func TestStartRecoverStop(t *testing.T) {
	e := newEnv(t, 20, "")
	r := e.Start(t)
	tokenFile := filepath.Join(e.Dir, "state", "tokens")
	if out := r.Out.String(); !strings.Contains(out, "created "+tokenFile) || !strings.Contains(out, "openstack --os-auth-type admin_token") {
		t.Errorf("first start did not say where the token is:\n%s", out)
	}
	var health map[string]any
	r.MustCall("GET", "/healthz", nil, 200, &health)
	if health["status"] != "ok" {
		t.Fatalf("healthz: %v", health)
	}
	r.Segment("inproc", true, "compute1", "compute2", "compute3")
	id := r.Notify("COMPUTE_HOST", "compute1", map[string]string{"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"})
	if n := r.WaitFinal(id, time.Minute); n.Notification.Status != "finished" {
		t.Fatalf("host notification: %s %+v", n.Notification.Status, n.Notification.Details)
	}
	c := r.Cloud()
	for _, s := range c.Servers {
		if s.Host == "compute1" {
			t.Errorf("server %s still on compute1 after the recovery", s.ID)
		}
	}
	for _, s := range c.Services {
		if s.Host == "compute1" && s.Status != "disabled" {
			t.Errorf("compute1's service is %s, want disabled", s.Status)
		}
	}
	m := r.Metrics()
	for _, want := range []string{
		`kaifuku_notifications_total{status="finished",type="COMPUTE_HOST"} 1`,
		`kaifuku_notifications{status="finished",type="COMPUTE_HOST"} 1`,
		`kaifuku_notifications{status="error",type="COMPUTE_HOST"} 0`,
		`kaifuku_nova_calls_total{operation="evacuate",outcome="success"} 2`,
		`kaifuku_config_last_reload_successful 1`,
		`kaifuku_build_info{`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s:\n%s", want, m)
		}
	}
	if err := r.Shutdown(); err != nil {
		t.Fatalf("Run after the stop: %v", err)
	}
	if !strings.Contains(r.Log.String(), "kaifuku stopped") {
		t.Error("the log does not say the daemon stopped")
	}
	if strings.Contains(r.Log.String(), r.Token) {
		t.Error("the API token appears in the log")
	}
}

// A stop in the middle of an evacuation lets the task end within the grace
// period (nothing is cancelled); the next start resumes the notification.
func TestGracefulStopAndResume(t *testing.T) {
	e := newEnv(t, 1500, "")
	r := e.Start(t)
	r.Segment("inproc", true, "compute1", "compute2", "compute3")
	id := r.Notify("COMPUTE_HOST", "compute1", map[string]string{"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"})
	r.WaitFor(id, 30*time.Second, "evacuating", func(n daemontest.Shown) bool {
		for _, tk := range n.Notification.Details {
			if tk.Name == "EvacuateInstancesTask" && tk.State == "RUNNING" {
				return true
			}
		}
		return false
	})
	begun := time.Now()
	if err := r.Shutdown(); err != nil {
		t.Fatalf("Run after the stop: %v", err)
	}
	if took := time.Since(begun); took > 8*time.Second {
		t.Errorf("the stop took %s, more than the evacuation needs", took)
	}
	if strings.Contains(r.Log.String(), "cancelling them") {
		t.Errorf("a run was cancelled within the grace period:\n%s", r.Log)
	}
	again := e.Start(t)
	if n := again.WaitFinal(id, time.Minute); n.Notification.Status != "finished" {
		t.Fatalf("resumed notification: %s %+v", n.Notification.Status, n.Notification.Details)
	}
}

// Reload applies a valid configuration (a new token file) and refuses an
// invalid one, keeping the running configuration.
func TestReload(t *testing.T) {
	e := newEnv(t, 20, "")
	r := e.Start(t)
	good, err := os.ReadFile(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	e.Write(t, string(good)+"[taskflow_driver_recovery_flows]\ninstance_failure_recovery_tasks = pre:['stop_instanse_task'],main:['start_instance_task'],post:['confirm_instance_active_task']\n")
	err = r.D.Reload()
	if err == nil || !strings.Contains(err.Error(), `unknown task "stop_instanse_task"`) {
		t.Fatalf("reload of a broken flow: %v", err)
	}
	if !strings.Contains(r.Log.String(), "reload failed; keeping the running configuration") {
		t.Error("the log does not say the reload was refused")
	}
	if code := r.Call("GET", "/v1/segments", nil, nil); code != 200 {
		t.Fatalf("after a refused reload: %d", code)
	}

	e.Write(t, daemontest.WithNewTokens(t, e.Dir, string(good)))
	if err := r.D.Reload(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	r.CheckNewTokens()

	// What cannot change while running is applied at the next start, and
	// the log says so.
	moved := filepath.Join(e.Dir, "cloud-moved.json")
	if err := os.Rename(filepath.Join(e.Dir, "cloud.json"), moved); err != nil {
		t.Fatal(err)
	}
	e.Write(t, strings.Replace(string(good), filepath.Join(e.Dir, "cloud.json"), moved, 1))
	if err := r.D.Reload(); err != nil {
		t.Fatalf("reload with another fixture: %v", err)
	}
	if !strings.Contains(r.Log.String(), "reload: [compute] changed; it takes effect at the next start") {
		t.Error("the log does not say [compute] changes at the next start")
	}
}

type health struct {
	Status     string `json:"status"`
	LastReload struct {
		Status      string `json:"status"`
		Time        string `json:"time"`
		Error       string `json:"error"`
		LastSuccess string `json:"last_success"`
	} `json:"last_reload"`
}

// A reload refused for a broken script shows on /healthz and in the
// metrics, which an operator alerts on; the next good reload clears it.
func TestRefusedReloadIsVisible(t *testing.T) {
	e := newEnv(t, 20, "")
	scripts := filepath.Join(e.Dir, "scripts")
	if err := os.MkdirAll(scripts, 0o750); err != nil {
		t.Fatal(err)
	}
	r := e.Start(t)
	var h health
	r.MustCall("GET", "/healthz", nil, 200, &h)
	if h.Status != "ok" || h.LastReload.Status != "ok" || h.LastReload.Time == "" || h.LastReload.LastSuccess != h.LastReload.Time {
		t.Fatalf("healthz after the start: %+v", h)
	}
	started := h.LastReload.LastSuccess
	m := r.Metrics()
	if !strings.Contains(m, "kaifuku_config_last_reload_successful 1") || !strings.Contains(m, "kaifuku_config_last_reload_success_timestamp_seconds 1.") {
		t.Fatalf("metrics after the start:\n%s", m)
	}

	if err := os.WriteFile(filepath.Join(scripts, "broken.lua"), []byte("return { execute = function(store) end\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // the times have a second's resolution
	reloadErr := r.D.Reload()
	if reloadErr == nil || !strings.Contains(reloadErr.Error(), "broken.lua") {
		t.Fatalf("reload of a broken script: %v", reloadErr)
	}
	h = health{}
	r.MustCall("GET", "/healthz", nil, 200, &h)
	if h.Status != "ok" || h.LastReload.Status != "failed" || h.LastReload.Error != reloadErr.Error() ||
		h.LastReload.LastSuccess != started || h.LastReload.Time == started {
		t.Errorf("healthz after a refused reload: %+v (started %s)", h, started)
	}
	m = r.Metrics()
	if !strings.Contains(m, "kaifuku_config_last_reload_successful 0") {
		t.Errorf("metrics after a refused reload:\n%s", m)
	}

	if err := os.Remove(filepath.Join(scripts, "broken.lua")); err != nil {
		t.Fatal(err)
	}
	if err := r.D.Reload(); err != nil {
		t.Fatalf("reload once fixed: %v", err)
	}
	h = health{}
	r.MustCall("GET", "/healthz", nil, 200, &h)
	if h.LastReload.Status != "ok" || h.LastReload.Error != "" || h.LastReload.LastSuccess == started {
		t.Errorf("healthz after a good reload: %+v", h)
	}
	if m := r.Metrics(); !strings.Contains(m, "kaifuku_config_last_reload_successful 1") {
		t.Errorf("metrics after a good reload:\n%s", m)
	}
}

// Reloading while workers record task events is race-free: the Lua error
// counter takes each task's kind from its event, not from a table a
// reload replaces. Run with -race.
func TestReloadUnderLoad(t *testing.T) {
	e := newEnv(t, 20, "[taskflow_driver_recovery_flows]\ninstance_failure_recovery_tasks = pre:['always_fails'],main:['start_instance_task'],post:['confirm_instance_active_task']\n")
	if err := os.MkdirAll(filepath.Join(e.Dir, "scripts"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.Dir, "scripts", "always_fails.lua"),
		[]byte("return { execute = function(store) error(\"this task always fails\", 0) end }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := e.Start(t)
	r.Segment("inproc", true, "compute2")
	const n = 24
	var ids []string
	var wg sync.WaitGroup
	wg.Add(1)
	reloads := 0
	loaded := make(chan struct{})
	go func() {
		defer wg.Done()
		for {
			select {
			case <-loaded:
				return
			default:
			}
			if err := r.D.Reload(); err != nil {
				t.Errorf("reload: %v", err)
				return
			}
			reloads++
		}
	}()
	for i := range n {
		ids = append(ids, r.Notify("VM", "compute2", map[string]string{"event": "LIFECYCLE",
			"instance_uuid": fmt.Sprintf("00000000-0000-4000-8000-%012d", i), "vir_domain_event": "STOPPED_FAILED"}))
	}
	for _, id := range ids {
		if got := r.WaitFinal(id, time.Minute); got.Notification.Status != "error" {
			t.Errorf("notification %s: %s, want error (its first task fails)", id, got.Notification.Status)
		}
	}
	close(loaded)
	wg.Wait()
	if reloads == 0 {
		t.Fatal("no reload ran while the notifications were processed")
	}
	m := r.Metrics()
	if !strings.Contains(m, `kaifuku_lua_task_errors_total{task="always_fails"} `) {
		t.Errorf("the Lua task's failures are not counted:\n%s", m)
	}
	if strings.Contains(m, `kaifuku_lua_task_errors_total{task="start_instance_task"}`) {
		t.Error("a Go task counted as a Lua error")
	}
}

// The simulated cloud's host controls: a host made to fail and recover.
func TestSimulatedHostControl(t *testing.T) {
	r := newEnv(t, 20, "").Start(t)
	stateOf := func(host string) string {
		for _, s := range r.Cloud().Services {
			if s.Host == host {
				return s.State
			}
		}
		t.Fatalf("no service on %s", host)
		return ""
	}
	if st := stateOf("compute1"); st != "down" {
		t.Fatalf("compute1 starts %s, want down", st)
	}
	r.MustCall("POST", "/debug/cloud/hosts/compute1/recover", nil, http.StatusOK, nil)
	if st := stateOf("compute1"); st != "up" {
		t.Fatalf("after recover compute1 is %s, want up", st)
	}
	r.MustCall("POST", "/debug/cloud/hosts/compute2/fail", nil, http.StatusOK, nil)
	r.MustCall("POST", "/debug/cloud/hosts/nowhere/fail", nil, http.StatusNotFound, nil)
	r.MustCall("POST", "/debug/cloud/hosts/compute2/explode", nil, http.StatusNotFound, nil)
	r.MustCall("GET", "/debug/cloud/hosts/compute2/fail", nil, http.StatusMethodNotAllowed, nil)
	r.Token = ""
	if code := r.Call("POST", "/debug/cloud/hosts/compute2/recover", nil, nil); code != http.StatusUnauthorized {
		t.Fatalf("without a token: %d, want 401", code)
	}
}

// Start-up problems of the configuration are ConfigErrors (kaifuku serve
// exits 2 on them), naming the option.
func TestStartRefusesABadConfiguration(t *testing.T) {
	e := newEnv(t, 20, "")
	cfg, err := conf.Load(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	cfg.API.Listen = "127.0.0.1:99999"
	log := logrus.New()
	log.SetOutput(io.Discard)
	out := &daemontest.Buffer{}
	_, err = daemon.New(context.Background(), cfg, e.Deps(log, out))
	var ce *daemon.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "[api] listen:") {
		t.Fatalf("bad listen address: %v", err)
	}
	if strings.Contains(out.String(), "try: openstack") {
		t.Errorf("printed how to use a daemon that did not start:\n%s", out)
	}
}
