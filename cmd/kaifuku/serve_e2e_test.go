package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine/daemon/daemontest"
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

// daemonProc is a `kaifuku serve` process and a client of its API.
type daemonProc struct {
	daemontest.API
	t      testing.TB
	cmd    *exec.Cmd
	stdout *daemontest.Buffer
	stderr *daemontest.Buffer
	done   chan error
}

// newE2EEnv writes the end-to-end fixture and a configuration on SQLite
// (with extra appended).
func newE2EEnv(t testing.TB, extra string) *daemontest.Env {
	t.Helper()
	return daemontest.NewEnv(t, e2eFixture, extra)
}

// startServe runs `kaifuku serve` on e's configuration and waits until it
// answers; its client asks for no microversion.
func startServe(t testing.TB, e *daemontest.Env) *daemonProc {
	t.Helper()
	cmd := exec.Command(kaifukuBinary(t), "serve", "--config-file", e.Config)
	d := &daemonProc{t: t, cmd: cmd, stdout: &daemontest.Buffer{}, stderr: &daemontest.Buffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = d.stdout, d.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
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
		resp, err := http.Get(e.URL + "/healthz")
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
	tok, err := os.ReadFile(filepath.Join(e.Dir, "state", "tokens"))
	if err != nil {
		t.Fatalf("token file: %v", err)
	}
	d.API = daemontest.NewAPI(t, e.URL, strings.TrimSpace(string(tok))).At("")
	return d
}

func (d *daemonProc) log() string { return d.stderr.String() }

func (d *daemonProc) setupSegment(hosts ...string) string {
	d.t.Helper()
	seg, _ := d.Segment("e2e", true, hosts...)
	return seg
}

func taskNamed(t *testing.T, tasks []daemontest.Task, name string) daemontest.Task {
	t.Helper()
	for _, tk := range tasks {
		if tk.Name == name {
			return tk
		}
	}
	t.Fatalf("no task %s in recovery_workflow_details: %+v", name, tasks)
	return daemontest.Task{}
}

func TestServeEndToEnd(t *testing.T) {
	_, d := startDaemon(t)
	seg := d.setupSegment("compute1", "compute2", "compute3")

	// A host that is no nova-compute of the cloud is refused.
	var fault map[string]map[string]any
	if code := d.Call("POST", "/v1/segments/"+seg+"/hosts", map[string]any{"host": map[string]any{
		"name": "ghost", "type": "COMPUTE", "control_attributes": "SSH"}}, &fault); code != 400 ||
		fault["badRequest"]["message"] != "Compute service with name ghost could not be found." {
		t.Fatalf("host ghost: %d %v", code, fault)
	}

	vm := d.Notify("VM", "compute2", map[string]string{"event": "LIFECYCLE",
		"instance_uuid": "44444444-4444-4444-8444-444444444444", "vir_domain_event": "STOPPED_FAILED"})
	proc := d.Notify("PROCESS", "compute3", map[string]string{"event": "STOPPED", "process_name": "nova-compute"})
	host := d.Notify("COMPUTE_HOST", "compute1", map[string]string{"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"})

	n := d.WaitFinal(vm, 60*time.Second)
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

	n = d.WaitFinal(proc, 60*time.Second)
	if n.Notification.Status != "finished" {
		t.Fatalf("PROCESS notification: %s", n.Notification.Status)
	}
	taskNamed(t, n.Notification.Details, "DisableComputeNodeTask")
	taskNamed(t, n.Notification.Details, "ConfirmComputeNodeDisabledTask")

	n = d.WaitFinal(host, 60*time.Second)
	if n.Notification.Status != "finished" {
		t.Fatalf("COMPUTE_HOST notification: %s %+v", n.Notification.Status, n.Notification.Details)
	}
	ev := taskNamed(t, n.Notification.Details, "EvacuateInstancesTask")
	if ev.State != "SUCCESS" {
		t.Errorf("evacuation task state %s", ev.State)
	}

	c := d.Cloud()
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
	if code := d.Call("POST", "/v1/notifications", map[string]any{"notification": map[string]any{
		"type": "COMPUTE_HOST", "hostname": "compute1", "generated_time": time.Now().UTC().Format(time.RFC3339),
		"payload": map[string]string{"event": "STOPPED", "host_status": "NORMAL"}}}, &fault); code != 409 {
		t.Errorf("notification for a host on maintenance: %d %v", code, fault)
	}

	// Metrics count the notifications by type and final status.
	resp, err := http.Get(d.URL + "/metrics")
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
	if strings.Contains(d.log(), d.Token) {
		t.Error("the API token appears in the log")
	}
}

func TestServeResumesAfterSIGKILL(t *testing.T) {
	env, d := startDaemon(t)
	d.setupSegment("compute1", "compute2", "compute3")
	id := d.Notify("COMPUTE_HOST", "compute1", map[string]string{"event": "STOPPED", "host_status": "NORMAL"})

	// Wait until the evacuation is under way, then kill the daemon.
	var before daemontest.Shown
	deadline := time.Now().Add(60 * time.Second)
	for {
		before = d.Notification(id)
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

	d2 := startServe(t, env)
	after := d2.WaitFinal(id, 60*time.Second)
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
	c := d2.Cloud()
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
	out := d.stdout.String()
	tokenFile := filepath.Join(env.Dir, "state", "tokens")
	if !strings.Contains(out, "created "+tokenFile) || !strings.Contains(out, "openstack --os-auth-type admin_token --os-token \"$(head -n1 "+tokenFile+")\" --os-endpoint "+env.URL+"/v1 segment list") {
		t.Errorf("first start did not print the token file and the openstack line:\n%s", out)
	}
	if st, err := os.Stat(tokenFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("token file mode: %v %v", st.Mode(), err)
	}
	good, err := os.ReadFile(env.Config)
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
	if err := os.WriteFile(env.Config, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	scripts := filepath.Join(env.Dir, "scripts")
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
	if code := d.Call("GET", "/v1/segments", nil, nil); code != 200 {
		t.Fatalf("after a failed reload: %d", code)
	}
	// A valid one: the new token file replaces the old token.
	env.Write(t, daemontest.WithNewTokens(t, env.Dir, string(good)))
	d.cmd.Process.Signal(syscall.SIGHUP)
	waitLog("configuration reloaded")
	d.CheckNewTokens()
}
