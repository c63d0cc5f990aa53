package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine/db/pgtest"
)

// The end-to-end tests build the kaifuku binary and drive `kaifuku serve`
// as a subprocess over real HTTP, with a SQLite file and a simulated cloud.

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// TestMain removes the binary built for the end-to-end tests, and the
// PostgreSQL cluster of the multi-engine test.
func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// kaifukuBinary builds the command once per test run.
func kaifukuBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kaifuku-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "kaifuku")
		out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// e2eFixture: compute1's nova-compute is dead (reported down), with three
// HA-enabled servers; evacuations take 2.5 s so that a test can kill the
// daemon in the middle of one.
const e2eFixture = `{
  "hosts": [
    {"name": "compute1", "status": "enabled", "state": "down"},
    {"name": "compute2", "status": "enabled", "state": "up"},
    {"name": "compute3", "status": "enabled", "state": "up"},
    {"name": "compute4", "status": "enabled", "state": "up"}
  ],
  "servers": [
    {"id": "11111111-1111-4111-8111-111111111111", "name": "app-1", "host": "compute1", "metadata": {"HA_Enabled": "True"}},
    {"id": "22222222-2222-4222-8222-222222222222", "name": "app-2", "host": "compute1", "metadata": {"HA_Enabled": "True"}},
    {"id": "33333333-3333-4333-8333-333333333333", "name": "app-3", "host": "compute1", "metadata": {"HA_Enabled": "True"}},
    {"id": "44444444-4444-4444-8444-444444444444", "name": "vm-1", "host": "compute2", "metadata": {"HA_Enabled": "True"}}
  ],
  "latency_ms": {"api": 5, "stop": 200, "start": 200, "evacuate": 2500}
}`

type daemonProc struct {
	t      testing.TB
	cmd    *exec.Cmd
	url    string
	token  string
	stderr *bytes.Buffer
	done   chan error
}

type e2eEnv struct {
	dir    string
	config string
	url    string
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func newE2EEnv(t testing.TB, extra string) *e2eEnv {
	t.Helper()
	dir := t.TempDir()
	fixture := filepath.Join(dir, "cloud.json")
	if err := os.WriteFile(fixture, []byte(e2eFixture), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	cfg := fmt.Sprintf(`[DEFAULT]
state_dir = %s
[api]
listen = 127.0.0.1:%d
grace_period = 10
[compute]
driver = simulated
fixture = %s
[database]
connection = sqlite:///%s
%s`, filepath.Join(dir, "state"), port, fixture, filepath.Join(dir, "kaifuku.db"), extra)
	path := filepath.Join(dir, "kaifuku.conf")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return &e2eEnv{dir: dir, config: path, url: fmt.Sprintf("http://127.0.0.1:%d", port)}
}

// start runs `kaifuku serve` and waits until it answers.
func (e *e2eEnv) start(t testing.TB) *daemonProc {
	t.Helper()
	cmd := exec.Command(kaifukuBinary(t), "serve", "--config-file", e.config)
	stdout, stderr := &syncWriter{w: &bytes.Buffer{}}, &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = stdout, &syncWriter{w: stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemonProc{t: t, cmd: cmd, url: e.url, stderr: stderr, done: make(chan error, 1)}
	go func() { d.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-d.done
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", d.log())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(e.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-d.done:
			t.Fatalf("kaifuku serve exited at start: %v\n%s", err, d.log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("kaifuku serve did not answer within 30 s\n%s", d.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	tok, err := os.ReadFile(filepath.Join(e.dir, "state", "tokens"))
	if err != nil {
		t.Fatalf("token file: %v", err)
	}
	d.token = strings.TrimSpace(string(tok))
	return d
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// String returns what was written so far.
func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

func (d *daemonProc) log() string {
	if sw, ok := d.cmd.Stderr.(*syncWriter); ok {
		sw.mu.Lock()
		defer sw.mu.Unlock()
	}
	return d.stderr.String()
}

// call sends a request and decodes the JSON answer into out (when non-nil).
func (d *daemonProc) call(method, path, version string, body any, out any) int {
	d.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, d.url+path, rd)
	req.Header.Set("X-Auth-Token", d.token)
	req.Header.Set("Content-Type", "application/json")
	if version != "" {
		req.Header.Set("OpenStack-API-Version", "instance-ha "+version)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			d.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

func (d *daemonProc) mustCall(method, path, version string, body any, want int, out any) {
	d.t.Helper()
	var raw json.RawMessage
	code := d.call(method, path, version, body, &raw)
	if code != want {
		d.t.Fatalf("%s %s: status %d, want %d: %s", method, path, code, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			d.t.Fatal(err)
		}
	}
}

type wfTask struct {
	Name            string  `json:"name"`
	Progress        float64 `json:"progress"`
	ProgressDetails []struct {
		Timestamp string `json:"timestamp"`
		Progress  string `json:"progress"`
		Message   string `json:"message"`
	} `json:"progress_details"`
	State string `json:"state"`
}

type shownNotification struct {
	Notification struct {
		UUID    string   `json:"notification_uuid"`
		Status  string   `json:"status"`
		Details []wfTask `json:"recovery_workflow_details"`
	} `json:"notification"`
}

func (d *daemonProc) notification(id string) shownNotification {
	var n shownNotification
	d.mustCall("GET", "/v1/notifications/"+id, "1.1", nil, 200, &n)
	return n
}

// waitStatus polls a notification until it reaches a final status.
func (d *daemonProc) waitStatus(id string, timeout time.Duration) shownNotification {
	d.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		n := d.notification(id)
		switch n.Notification.Status {
		case "finished", "ignored", "failed", "error":
			return n
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("notification %s still %s after %s: %+v", id, n.Notification.Status, timeout, n.Notification.Details)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type cloudView struct {
	Services []struct {
		Host   string `json:"host"`
		Status string `json:"status"`
		State  string `json:"state"`
	} `json:"services"`
	Servers []struct {
		ID      string `json:"id"`
		Host    string `json:"host"`
		VMState string `json:"vm_state"`
	} `json:"servers"`
	Counters struct {
		Ops         map[string]int `json:"ops"`
		Evacuations map[string]int `json:"evacuations"`
	} `json:"counters"`
}

func (d *daemonProc) cloud() cloudView {
	var c cloudView
	d.mustCall("GET", "/debug/cloud", "", nil, 200, &c)
	return c
}

func (d *daemonProc) notify(typ, host string, payload map[string]string) string {
	d.t.Helper()
	var out struct {
		Notification struct {
			UUID   string `json:"notification_uuid"`
			Status string `json:"status"`
		} `json:"notification"`
	}
	d.mustCall("POST", "/v1/notifications", "", map[string]any{"notification": map[string]any{
		"type": typ, "hostname": host, "generated_time": time.Now().UTC().Format("2006-01-02T15:04:05.000000"), "payload": payload,
	}}, 202, &out)
	if out.Notification.Status != "new" {
		d.t.Fatalf("created notification has status %q, want new", out.Notification.Status)
	}
	return out.Notification.UUID
}

func (d *daemonProc) setupSegment(hosts ...string) string {
	d.t.Helper()
	return d.createSegment("e2e", true, hosts...)
}

func taskNamed(t *testing.T, tasks []wfTask, name string) wfTask {
	t.Helper()
	for _, tk := range tasks {
		if tk.Name == name {
			return tk
		}
	}
	t.Fatalf("no task %s in recovery_workflow_details: %+v", name, tasks)
	return wfTask{}
}

func TestServeEndToEnd(t *testing.T) {
	_, d := startDaemon(t)
	seg := d.setupSegment("compute1", "compute2", "compute3")

	// A host that is no nova-compute of the cloud is refused.
	var fault map[string]map[string]any
	if code := d.call("POST", "/v1/segments/"+seg+"/hosts", "", map[string]any{"host": map[string]any{
		"name": "ghost", "type": "COMPUTE", "control_attributes": "SSH"}}, &fault); code != 400 ||
		fault["badRequest"]["message"] != "Compute service with name ghost could not be found." {
		t.Fatalf("host ghost: %d %v", code, fault)
	}

	vm := d.notify("VM", "compute2", map[string]string{"event": "LIFECYCLE",
		"instance_uuid": "44444444-4444-4444-8444-444444444444", "vir_domain_event": "STOPPED_FAILED"})
	proc := d.notify("PROCESS", "compute3", map[string]string{"event": "STOPPED", "process_name": "nova-compute"})
	host := d.notify("COMPUTE_HOST", "compute1", map[string]string{"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"})

	n := d.waitStatus(vm, 60*time.Second)
	if n.Notification.Status != "finished" {
		t.Fatalf("VM notification: %s", n.Notification.Status)
	}
	var names []string
	for _, tk := range n.Notification.Details {
		names = append(names, tk.Name)
		if tk.State != "SUCCESS" || tk.Progress != 1 {
			t.Errorf("VM task %s: state %s progress %v", tk.Name, tk.State, tk.Progress)
		}
		last := tk.ProgressDetails[len(tk.ProgressDetails)-1]
		if last.Progress != "1.0" {
			t.Errorf("VM task %s: last progress %q, want the string 1.0", tk.Name, last.Progress)
		}
	}
	if got := strings.Join(names, ","); got != "StopInstanceTask,StartInstanceTask,ConfirmInstanceActiveTask" {
		t.Errorf("VM tasks: %s", got)
	}

	n = d.waitStatus(proc, 60*time.Second)
	if n.Notification.Status != "finished" {
		t.Fatalf("PROCESS notification: %s", n.Notification.Status)
	}
	taskNamed(t, n.Notification.Details, "DisableComputeNodeTask")
	taskNamed(t, n.Notification.Details, "ConfirmComputeNodeDisabledTask")

	n = d.waitStatus(host, 60*time.Second)
	if n.Notification.Status != "finished" {
		t.Fatalf("COMPUTE_HOST notification: %s %+v", n.Notification.Status, n.Notification.Details)
	}
	ev := taskNamed(t, n.Notification.Details, "EvacuateInstancesTask")
	if ev.State != "SUCCESS" {
		t.Errorf("evacuation task state %s", ev.State)
	}

	c := d.cloud()
	for _, s := range c.Servers {
		if s.Host == "compute1" {
			t.Errorf("server %s still on compute1 after the host recovery", s.ID)
		}
		if s.ID == "44444444-4444-4444-8444-444444444444" && s.VMState != "active" {
			t.Errorf("recovered VM is %s, want active", s.VMState)
		}
	}
	for _, s := range c.Services {
		if (s.Host == "compute3" || s.Host == "compute1") && s.Status != "disabled" {
			t.Errorf("service of %s is %s, want disabled", s.Host, s.Status)
		}
	}

	// Masakari's maintenance rule: the failed host now refuses notifications.
	if code := d.call("POST", "/v1/notifications", "", map[string]any{"notification": map[string]any{
		"type": "COMPUTE_HOST", "hostname": "compute1", "generated_time": time.Now().UTC().Format(time.RFC3339),
		"payload": map[string]string{"event": "STOPPED", "host_status": "NORMAL"}}}, &fault); code != 409 {
		t.Errorf("notification for a host on maintenance: %d %v", code, fault)
	}

	// Metrics count the notifications by type and final status.
	resp, err := http.Get(d.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`kaifuku_notifications_total{status="finished",type="COMPUTE_HOST"} 1`,
		`kaifuku_notifications_total{status="finished",type="VM"} 1`, `kaifuku_task_duration_seconds_count{result="success",task="evacuate_instances_task"} 1`,
		`kaifuku_api_requests_total{code="202",route="POST /v1/notifications"} 3`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// SIGTERM: a clean exit 0.
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no exit within 20 s of SIGTERM")
	}
	if strings.Contains(d.log(), d.token) {
		t.Error("the API token appears in the log")
	}
}

func TestServeResumesAfterSIGKILL(t *testing.T) {
	env, d := startDaemon(t)
	d.setupSegment("compute1", "compute2", "compute3")
	id := d.notify("COMPUTE_HOST", "compute1", map[string]string{"event": "STOPPED", "host_status": "NORMAL"})

	// Wait until the evacuation is under way, then kill the daemon.
	var before shownNotification
	deadline := time.Now().Add(60 * time.Second)
	for {
		before = d.notification(id)
		if len(before.Notification.Details) > 0 {
			last := before.Notification.Details[len(before.Notification.Details)-1]
			if last.Name == "EvacuateInstancesTask" && last.State == "RUNNING" && len(last.ProgressDetails) >= 2 {
				break
			}
		}
		if before.Notification.Status != "running" && before.Notification.Status != "new" || time.Now().After(deadline) {
			t.Fatalf("never saw the evacuation running: %s %+v", before.Notification.Status, before.Notification.Details)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-d.done

	d2 := env.start(t)
	after := d2.waitStatus(id, 60*time.Second)
	if after.Notification.Status != "finished" {
		t.Fatalf("after restart: %s %+v", after.Notification.Status, after.Notification.Details)
	}
	// The tasks that had succeeded were not run again: their records are
	// exactly what the first daemon persisted.
	for _, name := range []string{"DisableComputeServiceTask", "PrepareHAEnabledInstancesTask"} {
		b, a := taskNamed(t, before.Notification.Details, name), taskNamed(t, after.Notification.Details, name)
		if b.State != "SUCCESS" {
			t.Fatalf("%s was %s before the kill", name, b.State)
		}
		bj, _ := json.Marshal(b)
		aj, _ := json.Marshal(a)
		if !bytes.Equal(bj, aj) {
			t.Errorf("%s changed across the restart:\nbefore %s\nafter  %s", name, bj, aj)
		}
	}
	ev := taskNamed(t, after.Notification.Details, "EvacuateInstancesTask")
	if ev.State != "SUCCESS" {
		t.Errorf("evacuation after restart: %s", ev.State)
	}
	c := d2.cloud()
	if c.Counters.Ops["disable_service"] != 0 {
		t.Errorf("the restarted daemon disabled the service again: %v", c.Counters.Ops)
	}
	if c.Counters.Ops["evacuate"] == 0 {
		t.Errorf("the restarted daemon did not evacuate: %v", c.Counters.Ops)
	}
	for _, s := range c.Servers {
		if s.Host == "compute1" {
			t.Errorf("server %s still on compute1 after the resumed recovery", s.ID)
		}
	}
	if testing.Verbose() {
		t.Logf("restarted daemon's log:\n%s", d2.log())
	}
	if !strings.Contains(d2.log(), "task already succeeded before the restart; not run again") {
		t.Error("the restarted daemon did not log the skipped tasks")
	}
}

// SIGHUP reloads the configuration; a configuration that fails validation
// is not applied and the daemon keeps serving with the old one.
func TestServeReloadAndFirstStart(t *testing.T) {
	env, d := startDaemon(t)
	out := d.cmd.Stdout.(*syncWriter).String()
	tokenFile := filepath.Join(env.dir, "state", "tokens")
	if !strings.Contains(out, "created "+tokenFile) || !strings.Contains(out, "openstack --os-auth-type admin_token --os-token \"$(head -n1 "+tokenFile+")\" --os-endpoint "+env.url+"/v1 segment list") {
		t.Errorf("first start did not print the token file and the openstack line:\n%s", out)
	}
	if st, err := os.Stat(tokenFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("token file mode: %v %v", st.Mode(), err)
	}
	good, err := os.ReadFile(env.config)
	if err != nil {
		t.Fatal(err)
	}
	waitLog := func(what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(d.log(), what) {
			if time.Now().After(deadline) {
				t.Fatalf("the log never said %q:\n%s", what, d.log())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// A bad option value, a broken flow option and a broken script: kept
	// out, with every reason in one log line.
	bad := string(good) + "\n[lua]\ntask_timeout = soon\n[taskflow_driver_recovery_flows]\ninstance_failure_recovery_tasks = pre:['no_such_task'],main:['start_instance_task'],post:[]\n"
	if err := os.WriteFile(env.config, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	scripts := filepath.Join(env.dir, "scripts")
	if err := os.MkdirAll(scripts, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(scripts, "broken.lua"), []byte("return {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.cmd.Process.Signal(syscall.SIGHUP)
	waitLog("reload failed; keeping the running configuration")
	for _, want := range []string{`[lua] task_timeout: invalid duration \"soon\"`, `unknown task \"no_such_task\"`, "broken.lua: syntax error"} {
		if !strings.Contains(d.log(), want) {
			t.Errorf("the failed reload's log does not name %s:\n%s", want, d.log())
		}
	}
	if err := os.Remove(filepath.Join(scripts, "broken.lua")); err != nil {
		t.Fatal(err)
	}
	if code := d.call("GET", "/v1/segments", "", nil, nil); code != 200 {
		t.Fatalf("after a failed reload: %d", code)
	}
	// A valid one: the new token file replaces the old token.
	newTokens := filepath.Join(env.dir, "other-tokens")
	if err := os.WriteFile(newTokens, []byte("# operators\nnew-token-1\nviewer-token member\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(env.config, []byte(strings.Replace(string(good), "[api]\n", "[api]\ntoken_file = "+newTokens+"\n", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	d.cmd.Process.Signal(syscall.SIGHUP)
	waitLog("configuration reloaded")
	if code := d.call("GET", "/v1/segments", "", nil, nil); code != 401 {
		t.Errorf("old token after reload: %d, want 401", code)
	}
	d.token = "viewer-token"
	if code := d.call("GET", "/v1/segments", "", nil, nil); code != 403 {
		t.Errorf("member token: %d, want 403", code)
	}
	d.token = "new-token-1"
	if code := d.call("GET", "/v1/segments", "", nil, nil); code != 200 {
		t.Errorf("new token: %d, want 200", code)
	}
}
