package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
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
	"github.com/kaifuku-ha/kaifuku/engine/daemon"
	"github.com/kaifuku-ha/kaifuku/engine/script"
)

// The daemon runs in the test process here, composed as kaifuku serve
// composes it, on a SQLite file and a simulated cloud; the command's own
// tests still drive the built binary.

// fixture: compute1's nova-compute is dead (reported down), with two
// HA-enabled servers; compute2 hosts one more.
const fixture = `{
  "hosts": [
    {"name": "compute1", "status": "enabled", "state": "down"},
    {"name": "compute2", "status": "enabled", "state": "up"},
    {"name": "compute3", "status": "enabled", "state": "up"}
  ],
  "servers": [
    {"id": "11111111-1111-4111-8111-111111111111", "name": "app-1", "host": "compute1", "metadata": {"HA_Enabled": "True"}},
    {"id": "22222222-2222-4222-8222-222222222222", "name": "app-2", "host": "compute1", "metadata": {"HA_Enabled": "True"}},
    {"id": "44444444-4444-4444-8444-444444444444", "name": "vm-1", "host": "compute2", "metadata": {"HA_Enabled": "True"}}
  ],
  "latency_ms": {"api": 1, "stop": 20, "start": 20, "evacuate": %d}
}`

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

type env struct {
	dir    string
	config string
}

// newEnv writes a configuration (with extra appended) and a fixture whose
// evacuations take evacuateMS.
func newEnv(t *testing.T, evacuateMS int, extra string) *env {
	t.Helper()
	dir := t.TempDir()
	fx := filepath.Join(dir, "cloud.json")
	if err := os.WriteFile(fx, []byte(fmt.Sprintf(fixture, evacuateMS)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`[DEFAULT]
state_dir = %s
scripts_dir = %s
[api]
listen = 127.0.0.1:%d
grace_period = 10
[compute]
driver = simulated
fixture = %s
[database]
connection = sqlite:///%s
%s`, filepath.Join(dir, "state"), filepath.Join(dir, "scripts"), freePort(t), fx, filepath.Join(dir, "kaifuku.db"), extra)
	e := &env{dir: dir, config: filepath.Join(dir, "kaifuku.conf")}
	e.write(t, cfg)
	return e
}

func (e *env) write(t *testing.T, cfg string) {
	t.Helper()
	if err := os.WriteFile(e.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// deps composes the daemon as cmd/kaifuku does: built-in tasks, the Lua
// scripts of scripts_dir and the simulated cloud of the fixture.
func (e *env) deps(log *logrus.Logger, out io.Writer) daemon.Deps {
	return daemon.Deps{
		Log:        log,
		Out:        out,
		LoadConfig: func() (*conf.Config, error) { return conf.Load(e.config) },
		Cloud: func(_ context.Context, cfg *conf.Config) (daemon.Cloud, error) {
			fx, err := simulated.LoadFixture(cfg.Compute.Fixture)
			if err != nil {
				return daemon.Cloud{}, err
			}
			c, err := simulated.New(fx, clock.Real{})
			return daemon.Cloud{Compute: c, Simulated: c, Describe: "test cloud"}, err
		},
		Flows: func(cfg *conf.Config, cloud compute.Cloud) (map[conf.FlowKind]*engine.Flow, error) {
			reg := engine.NewRegistry()
			builtin.Register(reg, cloud, cfg)
			if _, err := os.Stat(cfg.Lua.ScriptsDir); err == nil {
				if err := script.Register(reg, script.Options{Dir: cfg.Lua.ScriptsDir, Config: cfg, Cloud: cloud}); err != nil {
					return nil, err
				}
			}
			return engine.BuildAll(reg, cfg)
		},
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// running is a daemon serving in the test process.
type running struct {
	t      *testing.T
	d      *daemon.Daemon
	url    string
	token  string
	out    *syncBuffer
	log    *syncBuffer
	stop   context.CancelFunc
	done   chan error
	client *http.Client
}

// start starts a daemon of e and runs it until the test ends.
func (e *env) start(t *testing.T) *running {
	t.Helper()
	return e.startWith(t, e.deps)
}

// startWith starts a daemon of e composed by deps.
func (e *env) startWith(t *testing.T, deps func(*logrus.Logger, io.Writer) daemon.Deps) *running {
	t.Helper()
	cfg, err := conf.Load(e.config)
	if err != nil {
		t.Fatal(err)
	}
	r := &running{t: t, out: &syncBuffer{}, log: &syncBuffer{}, done: make(chan error, 1), client: &http.Client{Timeout: 10 * time.Second}}
	log := logrus.New()
	log.SetOutput(r.log)
	r.d, err = daemon.New(context.Background(), cfg, deps(log, r.out))
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	r.url = "http://" + r.d.Addr().String()
	tok, err := os.ReadFile(cfg.API.TokenFile)
	if err != nil {
		t.Fatalf("token file: %v", err)
	}
	r.token = strings.TrimSpace(string(tok))
	var ctx context.Context
	ctx, r.stop = context.WithCancel(context.Background())
	go func() { r.done <- r.d.Run(ctx) }()
	t.Cleanup(func() {
		r.shutdown()
		if t.Failed() {
			t.Logf("daemon log:\n%s", r.log)
		}
	})
	return r
}

// shutdown ends Run as SIGTERM does and returns what it returned.
func (r *running) shutdown() error {
	r.stop()
	select {
	case err, ok := <-r.done:
		if ok {
			close(r.done)
		}
		return err
	case <-time.After(30 * time.Second):
		r.t.Fatal("Run did not return within 30 s of the stop")
		return nil
	}
}

func (r *running) call(method, path string, body any, out any) int {
	r.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, r.url+path, rd)
	req.Header.Set("X-Auth-Token", r.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("OpenStack-API-Version", "instance-ha 1.2")
	resp, err := r.client.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			r.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

func (r *running) mustCall(method, path string, body any, want int, out any) {
	r.t.Helper()
	var raw json.RawMessage
	if code := r.call(method, path, body, &raw); code != want {
		r.t.Fatalf("%s %s: status %d, want %d: %s", method, path, code, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			r.t.Fatal(err)
		}
	}
}

func (r *running) segment(hosts ...string) {
	r.t.Helper()
	var seg struct {
		Segment struct {
			UUID string `json:"uuid"`
		} `json:"segment"`
	}
	r.mustCall("POST", "/v1/segments", map[string]any{"segment": map[string]any{
		"name": "inproc", "recovery_method": "auto", "service_type": "COMPUTE", "enabled": true}}, 201, &seg)
	for _, h := range hosts {
		r.mustCall("POST", "/v1/segments/"+seg.Segment.UUID+"/hosts", map[string]any{"host": map[string]any{
			"name": h, "type": "COMPUTE", "control_attributes": "SSH"}}, 201, nil)
	}
}

func (r *running) notify(typ, host string, payload map[string]string) string {
	r.t.Helper()
	var out struct {
		Notification struct {
			UUID string `json:"notification_uuid"`
		} `json:"notification"`
	}
	r.mustCall("POST", "/v1/notifications", map[string]any{"notification": map[string]any{
		"type": typ, "hostname": host, "generated_time": time.Now().UTC().Format("2006-01-02T15:04:05.000000"), "payload": payload,
	}}, 202, &out)
	return out.Notification.UUID
}

type wfTask struct {
	Name  string `json:"name"`
	State string `json:"state"`
}

type shown struct {
	Notification struct {
		Status  string   `json:"status"`
		Details []wfTask `json:"recovery_workflow_details"`
	} `json:"notification"`
}

func (r *running) notification(id string) shown {
	r.t.Helper()
	var n shown
	r.mustCall("GET", "/v1/notifications/"+id, nil, 200, &n)
	return n
}

// waitFor polls a notification until ok says yes.
func (r *running) waitFor(id string, timeout time.Duration, what string, ok func(shown) bool) shown {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		n := r.notification(id)
		if ok(n) {
			return n
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("notification %s is not %s after %s: %+v", id, what, timeout, n.Notification)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func final(n shown) bool {
	switch n.Notification.Status {
	case "finished", "ignored", "failed", "error":
		return true
	}
	return false
}

func (r *running) waitFinal(id string) shown {
	r.t.Helper()
	return r.waitFor(id, 60*time.Second, "final", final)
}

func (r *running) waitLog(what string) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(r.log.String(), what) {
		if time.Now().After(deadline) {
			r.t.Fatalf("the log never said %q", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *running) metrics() string {
	r.t.Helper()
	resp, err := r.client.Get(r.url + "/metrics")
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

type cloudView struct {
	Services []struct {
		Host   string `json:"host"`
		Status string `json:"status"`
		State  string `json:"state"`
	} `json:"services"`
	Servers []struct {
		ID   string `json:"id"`
		Host string `json:"host"`
	} `json:"servers"`
}

func (r *running) cloud() cloudView {
	var c cloudView
	r.mustCall("GET", "/debug/cloud", nil, 200, &c)
	return c
}

// Start, a host failure recovered on the simulated cloud, and a clean stop.
func TestStartRecoverStop(t *testing.T) {
	e := newEnv(t, 20, "")
	r := e.start(t)
	tokenFile := filepath.Join(e.dir, "state", "tokens")
	if out := r.out.String(); !strings.Contains(out, "created "+tokenFile) || !strings.Contains(out, "openstack --os-auth-type admin_token") {
		t.Errorf("first start did not say where the token is:\n%s", out)
	}
	var health map[string]any
	r.mustCall("GET", "/healthz", nil, 200, &health)
	if health["status"] != "ok" {
		t.Fatalf("healthz: %v", health)
	}
	r.segment("compute1", "compute2", "compute3")
	id := r.notify("COMPUTE_HOST", "compute1", map[string]string{"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"})
	if n := r.waitFinal(id); n.Notification.Status != "finished" {
		t.Fatalf("host notification: %s %+v", n.Notification.Status, n.Notification.Details)
	}
	c := r.cloud()
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
	m := r.metrics()
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
	if err := r.shutdown(); err != nil {
		t.Fatalf("Run after the stop: %v", err)
	}
	if !strings.Contains(r.log.String(), "kaifuku stopped") {
		t.Error("the log does not say the daemon stopped")
	}
	if strings.Contains(r.log.String(), r.token) {
		t.Error("the API token appears in the log")
	}
}

// A stop in the middle of an evacuation lets the task end within the grace
// period (nothing is cancelled); the next start resumes the notification.
func TestGracefulStopAndResume(t *testing.T) {
	e := newEnv(t, 1500, "")
	r := e.start(t)
	r.segment("compute1", "compute2", "compute3")
	id := r.notify("COMPUTE_HOST", "compute1", map[string]string{"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"})
	r.waitFor(id, 30*time.Second, "evacuating", func(n shown) bool {
		for _, tk := range n.Notification.Details {
			if tk.Name == "EvacuateInstancesTask" && tk.State == "RUNNING" {
				return true
			}
		}
		return false
	})
	begun := time.Now()
	if err := r.shutdown(); err != nil {
		t.Fatalf("Run after the stop: %v", err)
	}
	if took := time.Since(begun); took > 8*time.Second {
		t.Errorf("the stop took %s, more than the evacuation needs", took)
	}
	if strings.Contains(r.log.String(), "cancelling them") {
		t.Errorf("a run was cancelled within the grace period:\n%s", r.log)
	}
	again := e.start(t)
	if n := again.waitFinal(id); n.Notification.Status != "finished" {
		t.Fatalf("resumed notification: %s %+v", n.Notification.Status, n.Notification.Details)
	}
}

// Reload applies a valid configuration (a new token file) and refuses an
// invalid one, keeping the running configuration.
func TestReload(t *testing.T) {
	e := newEnv(t, 20, "")
	r := e.start(t)
	good, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	e.write(t, string(good)+"[taskflow_driver_recovery_flows]\ninstance_failure_recovery_tasks = pre:['stop_instanse_task'],main:['start_instance_task'],post:['confirm_instance_active_task']\n")
	err = r.d.Reload()
	if err == nil || !strings.Contains(err.Error(), `unknown task "stop_instanse_task"`) {
		t.Fatalf("reload of a broken flow: %v", err)
	}
	if !strings.Contains(r.log.String(), "reload failed; keeping the running configuration") {
		t.Error("the log does not say the reload was refused")
	}
	if code := r.call("GET", "/v1/segments", nil, nil); code != 200 {
		t.Fatalf("after a refused reload: %d", code)
	}

	newTokens := filepath.Join(e.dir, "other-tokens")
	if err := os.WriteFile(newTokens, []byte("# operators\nnew-token-1\nviewer-token member\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.write(t, strings.Replace(string(good), "[api]\n", "[api]\ntoken_file = "+newTokens+"\n", 1))
	if err := r.d.Reload(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if code := r.call("GET", "/v1/segments", nil, nil); code != 401 {
		t.Errorf("old token after the reload: %d, want 401", code)
	}
	r.token = "viewer-token"
	if code := r.call("GET", "/v1/segments", nil, nil); code != 403 {
		t.Errorf("member token: %d, want 403", code)
	}
	r.token = "new-token-1"
	if code := r.call("GET", "/v1/segments", nil, nil); code != 200 {
		t.Errorf("new token: %d, want 200", code)
	}

	// What cannot change while running is applied at the next start, and
	// the log says so.
	moved := filepath.Join(e.dir, "cloud-moved.json")
	if err := os.Rename(filepath.Join(e.dir, "cloud.json"), moved); err != nil {
		t.Fatal(err)
	}
	e.write(t, strings.Replace(string(good), filepath.Join(e.dir, "cloud.json"), moved, 1))
	if err := r.d.Reload(); err != nil {
		t.Fatalf("reload with another fixture: %v", err)
	}
	if !strings.Contains(r.log.String(), "reload: [compute] changed; it takes effect at the next start") {
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
	scripts := filepath.Join(e.dir, "scripts")
	if err := os.MkdirAll(scripts, 0o750); err != nil {
		t.Fatal(err)
	}
	r := e.start(t)
	var h health
	r.mustCall("GET", "/healthz", nil, 200, &h)
	if h.Status != "ok" || h.LastReload.Status != "ok" || h.LastReload.Time == "" || h.LastReload.LastSuccess != h.LastReload.Time {
		t.Fatalf("healthz after the start: %+v", h)
	}
	started := h.LastReload.LastSuccess
	m := r.metrics()
	if !strings.Contains(m, "kaifuku_config_last_reload_successful 1") || !strings.Contains(m, "kaifuku_config_last_reload_success_timestamp_seconds 1.") {
		t.Fatalf("metrics after the start:\n%s", m)
	}

	if err := os.WriteFile(filepath.Join(scripts, "broken.lua"), []byte("return { execute = function(store) end\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // the times have a second's resolution
	reloadErr := r.d.Reload()
	if reloadErr == nil || !strings.Contains(reloadErr.Error(), "broken.lua") {
		t.Fatalf("reload of a broken script: %v", reloadErr)
	}
	h = health{}
	r.mustCall("GET", "/healthz", nil, 200, &h)
	if h.Status != "ok" || h.LastReload.Status != "failed" || h.LastReload.Error != reloadErr.Error() ||
		h.LastReload.LastSuccess != started || h.LastReload.Time == started {
		t.Errorf("healthz after a refused reload: %+v (started %s)", h, started)
	}
	m = r.metrics()
	if !strings.Contains(m, "kaifuku_config_last_reload_successful 0") {
		t.Errorf("metrics after a refused reload:\n%s", m)
	}

	if err := os.Remove(filepath.Join(scripts, "broken.lua")); err != nil {
		t.Fatal(err)
	}
	if err := r.d.Reload(); err != nil {
		t.Fatalf("reload once fixed: %v", err)
	}
	h = health{}
	r.mustCall("GET", "/healthz", nil, 200, &h)
	if h.LastReload.Status != "ok" || h.LastReload.Error != "" || h.LastReload.LastSuccess == started {
		t.Errorf("healthz after a good reload: %+v", h)
	}
	if m := r.metrics(); !strings.Contains(m, "kaifuku_config_last_reload_successful 1") {
		t.Errorf("metrics after a good reload:\n%s", m)
	}
}

// Reloading while workers record task events is race-free: the Lua error
// counter takes each task's kind from its event, not from a table a
// reload replaces. Run with -race.
func TestReloadUnderLoad(t *testing.T) {
	e := newEnv(t, 20, "[taskflow_driver_recovery_flows]\ninstance_failure_recovery_tasks = pre:['always_fails'],main:['start_instance_task'],post:['confirm_instance_active_task']\n")
	if err := os.MkdirAll(filepath.Join(e.dir, "scripts"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.dir, "scripts", "always_fails.lua"),
		[]byte("return { execute = function(store) error(\"this task always fails\", 0) end }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := e.start(t)
	r.segment("compute2")
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
			if err := r.d.Reload(); err != nil {
				t.Errorf("reload: %v", err)
				return
			}
			reloads++
		}
	}()
	for i := range n {
		ids = append(ids, r.notify("VM", "compute2", map[string]string{"event": "LIFECYCLE",
			"instance_uuid": fmt.Sprintf("00000000-0000-4000-8000-%012d", i), "vir_domain_event": "STOPPED_FAILED"}))
	}
	for _, id := range ids {
		if got := r.waitFinal(id); got.Notification.Status != "error" {
			t.Errorf("notification %s: %s, want error (its first task fails)", id, got.Notification.Status)
		}
	}
	close(loaded)
	wg.Wait()
	if reloads == 0 {
		t.Fatal("no reload ran while the notifications were processed")
	}
	m := r.metrics()
	if !strings.Contains(m, `kaifuku_lua_task_errors_total{task="always_fails"} `) {
		t.Errorf("the Lua task's failures are not counted:\n%s", m)
	}
	if strings.Contains(m, `kaifuku_lua_task_errors_total{task="start_instance_task"}`) {
		t.Error("a Go task counted as a Lua error")
	}
}

// The simulated cloud's host controls: a host made to fail and recover.
func TestSimulatedHostControl(t *testing.T) {
	r := newEnv(t, 20, "").start(t)
	stateOf := func(host string) string {
		for _, s := range r.cloud().Services {
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
	r.mustCall("POST", "/debug/cloud/hosts/compute1/recover", nil, http.StatusOK, nil)
	if st := stateOf("compute1"); st != "up" {
		t.Fatalf("after recover compute1 is %s, want up", st)
	}
	r.mustCall("POST", "/debug/cloud/hosts/compute2/fail", nil, http.StatusOK, nil)
	r.mustCall("POST", "/debug/cloud/hosts/nowhere/fail", nil, http.StatusNotFound, nil)
	r.mustCall("POST", "/debug/cloud/hosts/compute2/explode", nil, http.StatusNotFound, nil)
	r.mustCall("GET", "/debug/cloud/hosts/compute2/fail", nil, http.StatusMethodNotAllowed, nil)
	r.token = ""
	if code := r.call("POST", "/debug/cloud/hosts/compute2/recover", nil, nil); code != http.StatusUnauthorized {
		t.Fatalf("without a token: %d, want 401", code)
	}
}

// Start-up problems of the configuration are ConfigErrors (kaifuku serve
// exits 2 on them), naming the option.
func TestStartRefusesABadConfiguration(t *testing.T) {
	e := newEnv(t, 20, "")
	cfg, err := conf.Load(e.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg.API.Listen = "127.0.0.1:99999"
	log := logrus.New()
	log.SetOutput(io.Discard)
	out := &syncBuffer{}
	_, err = daemon.New(context.Background(), cfg, e.deps(log, out))
	var ce *daemon.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "[api] listen:") {
		t.Fatalf("bad listen address: %v", err)
	}
	if strings.Contains(out.String(), "try: openstack") {
		t.Errorf("printed how to use a daemon that did not start:\n%s", out)
	}
}
