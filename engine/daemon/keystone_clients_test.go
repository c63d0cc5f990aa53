package daemon_test

// The real OpenStack clients against a daemon behind the Keystone bed, as an
// operator and a compute node would use them: a password login, the
// catalog's instance-ha entry (the bed's catalog points it at
// 127.0.0.1:15868, where the daemon listens), no endpoint override and no
// static token. The clients are Debian's python3-openstackclient with
// python3-masakariclient, python3-openstacksdk and python3-masakari-monitors.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine/daemon/daemontest"
)

// catalogListen is where the Keystone bed's catalog says instance-ha is.
const catalogListen = "127.0.0.1:15868"

// clientTools returns the paths of the named programs, failing in CI and
// skipping elsewhere when one is missing.
func clientTools(t *testing.T, names ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range names {
		p, err := exec.LookPath(n)
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s must be installed in CI (.ci/run installs it): %v", n, err)
			}
			t.Skipf("%s is not installed: %v", n, err)
		}
		out[n] = p
	}
	return out
}

// interpreter is the Python of a client script (its #! line): the one its
// packages are installed for.
func interpreter(t *testing.T, script string) string {
	t.Helper()
	data, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(strings.TrimPrefix(line, "#!"))
	if !strings.HasPrefix(line, "#!") || len(fields) == 0 {
		t.Fatalf("%s has no #! line", script)
	}
	if filepath.Base(fields[0]) == "env" && len(fields) > 1 {
		return fields[1]
	}
	return fields[0]
}

// osEnv is a login as the bed's user for the openstack CLI and the SDK.
func osEnv(authURL, user, project string) []string {
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OS_") {
			env = append(env, kv)
		}
	}
	return append(env, "OS_AUTH_URL="+authURL, "OS_IDENTITY_API_VERSION=3", "OS_REGION_NAME=RegionOne",
		"OS_USERNAME="+user, "OS_PASSWORD="+user+"-secret", "OS_PROJECT_NAME="+project,
		"OS_USER_DOMAIN_NAME=Default", "OS_PROJECT_DOMAIN_NAME=Default", "OS_INTERFACE=public")
}

// run runs a client program with env and returns its standard output and
// error and whether it exited 0.
func runClient(t *testing.T, env []string, name string, args ...string) (string, string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err == nil
}

// openstackJSON runs the openstack CLI with -f json and decodes the answer.
func openstackJSON(t *testing.T, env []string, out any, args ...string) {
	t.Helper()
	stdout, stderr, ok := runClient(t, env, "openstack", append(args, "-f", "json")...)
	if !ok {
		t.Fatalf("openstack %s: %s%s", strings.Join(args, " "), stdout, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), out); err != nil {
		t.Fatalf("openstack %s: %v in %q", strings.Join(args, " "), err, stdout)
	}
}

func TestKeystoneBedClients(t *testing.T) {
	bed := keystoneBed(t)
	tools := clientTools(t, "openstack", "masakari-processmonitor")
	python := interpreter(t, tools["openstack"])
	if c, err := net.DialTimeout("tcp", catalogListen, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s is in use: the catalog's instance-ha endpoint must be this test's daemon", catalogListen)
	}
	e := newEnv(t, 50, bedAuth(bed, bed)+`[api]
accept_token_file = true
`)
	// masakari-processmonitor reports this machine's host name: the cloud
	// and the segment get a compute host of that name.
	self, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	selfJSON, _ := json.Marshal(self)
	fx := strings.Replace(daemontest.HostDownFixture(50), `{"name": "compute3", "status": "enabled", "state": "up"}`,
		`{"name": "compute3", "status": "enabled", "state": "up"}, {"name": `+string(selfJSON)+`, "status": "enabled", "state": "up"}`, 1)
	if err := os.WriteFile(filepath.Join(e.Dir, "cloud.json"), []byte(fx), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	e.Write(t, regexp.MustCompile(`(?m)^listen = .*$`).ReplaceAllString(string(cfg), "listen = "+catalogListen))
	r := e.Start(t)
	r.HTTP.Timeout = time.Minute
	admin := osEnv(bed, "admin", "admin")

	// The openstack CLI: a password login, the endpoint from the catalog.
	var seg map[string]any
	openstackJSON(t, admin, &seg, "segment", "create", "clients", "auto", "COMPUTE")
	segID, _ := seg["uuid"].(string)
	if segID == "" {
		t.Fatalf("segment create: %v", seg)
	}
	for _, h := range []string{"compute1", "compute2", "compute3", self} {
		var host map[string]any
		openstackJSON(t, admin, &host, "segment", "host", "create", h, "COMPUTE", "SSH", segID)
	}
	var note map[string]any
	generated := time.Now().UTC().Format("2006-01-02T15:04:05.000000")
	openstackJSON(t, admin, &note, "notification", "create", "COMPUTE_HOST", "compute1", generated,
		`{"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"}`)
	noteID, _ := note["notification_uuid"].(string)
	if noteID == "" {
		t.Fatalf("notification create: %v", note)
	}
	if n := r.WaitFinal(noteID, time.Minute); n.Notification.Status != "finished" {
		t.Fatalf("host notification ended %s", n.Notification.Status)
	}
	var list []map[string]any
	openstackJSON(t, admin, &list, "notification", "list")
	if len(list) != 1 || list[0]["notification_uuid"] != noteID || list[0]["status"] != "finished" {
		t.Errorf("notification list: %v", list)
	}

	// A member's login is refused with Masakari's policy message.
	stdout, stderr, ok := runClient(t, osEnv(bed, "demo", "demo"), "openstack", "segment", "list")
	if ok || !strings.Contains(stderr, "Policy doesn't allow os_masakari_api:segments:index to be performed.") {
		t.Errorf("demo's segment list: ok=%v %s%s", ok, stdout, stderr)
	}

	// openstacksdk with a clouds.yaml auth section: the instance_ha proxy
	// through the catalog, and the VMoves of the host recovery at 1.3.
	dir := t.TempDir()
	clouds := fmt.Sprintf(`clouds:
  bed:
    auth:
      auth_url: %s
      username: monitor
      password: monitor-secret
      project_name: service
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: public
    identity_api_version: 3
`, bed)
	if err := os.WriteFile(filepath.Join(dir, "clouds.yaml"), []byte(clouds), 0o600); err != nil {
		t.Fatal(err)
	}
	sdk := fmt.Sprintf(`import json, openstack
conn = openstack.connect(cloud="bed")
segs = [s.name for s in conn.instance_ha.segments()]
notes = [n.notification_uuid for n in conn.instance_ha.notifications()]
r = conn.instance_ha.get("/notifications/%[1]s/vmoves", microversion="1.3")
r.raise_for_status()
n = conn.instance_ha.get("/notifications/%[1]s", microversion="1.3")
n.raise_for_status()
print(json.dumps({"segments": segs, "notifications": notes, "vmoves": r.json()["vmoves"],
                  "version": r.headers.get("OpenStack-API-Version"), "notification": n.json()["notification"]}))
`, noteID)
	if err := os.WriteFile(filepath.Join(dir, "sdk.py"), []byte(sdk), 0o600); err != nil {
		t.Fatal(err)
	}
	var sdkEnv []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OS_") {
			sdkEnv = append(sdkEnv, kv)
		}
	}
	sdkEnv = append(sdkEnv, "OS_CLIENT_CONFIG_FILE="+filepath.Join(dir, "clouds.yaml"))
	stdout, stderr, ok = runClient(t, sdkEnv, python, filepath.Join(dir, "sdk.py"))
	if !ok {
		t.Fatalf("openstacksdk: %s%s", stdout, stderr)
	}
	var got struct {
		Segments      []string         `json:"segments"`
		Notifications []string         `json:"notifications"`
		VMoves        []map[string]any `json:"vmoves"`
		Version       string           `json:"version"`
		Notification  map[string]any   `json:"notification"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("openstacksdk: %v in %q", err, stdout)
	}
	if len(got.Segments) != 1 || got.Segments[0] != "clients" || len(got.Notifications) != 1 || got.Version != "masakari 1.3" {
		t.Errorf("openstacksdk: %s", stdout)
	}
	moved := map[string]string{}
	for _, v := range got.VMoves {
		id, _ := v["instance_uuid"].(string)
		st, _ := v["status"].(string)
		moved[id] = st
		if v["source_host"] != "compute1" || v["dest_host"] == nil || v["dest_host"] == "compute1" {
			t.Errorf("vmove %v", v)
		}
	}
	if len(moved) != 2 || moved["11111111-1111-4111-8111-111111111111"] != "succeeded" || moved["22222222-2222-4222-8222-222222222222"] != "succeeded" {
		t.Errorf("vmoves: %v", got.VMoves)
	}
	if got.Notification["failover_segment_uuid"] != segID {
		t.Errorf("notification at 1.3: %v", got.Notification)
	}

	// The real masakari-processmonitor with its default Keystone login
	// ([api] auth_type = password) reports a process that is gone.
	mon := t.TempDir()
	// The shipped example, pointed at the bed with the bed's monitor user.
	example, err := os.ReadFile(filepath.Join("..", "..", "conf", "examples", "masakarimonitors.conf"))
	if err != nil {
		t.Fatal(err)
	}
	monConf := string(example)
	for key, value := range map[string]string{"auth_url": bed, "username": "monitor", "password": "monitor-secret",
		"check_interval": "1", "restart_interval": "1", "restart_retries": "1", "api_retry_max": "3", "api_retry_interval": "1",
		"process_list_path": filepath.Join(mon, "process_list.yaml")} {
		re := regexp.MustCompile(`(?m)^` + key + ` = .*$`)
		if !re.MatchString(monConf) {
			t.Fatalf("conf/examples/masakarimonitors.conf has no %s", key)
		}
		monConf = re.ReplaceAllLiteralString(monConf, key+" = "+value)
	}
	procs := `-
    process_name: /usr/local/bin/nova-compute
    start_command: /bin/true
    pre_start_command:
    post_start_command:
    restart_command: /bin/false
    pre_restart_command:
    post_restart_command:
    run_as_root: False
`
	for name, body := range map[string]string{"masakarimonitors.conf": monConf, "process_list.yaml": procs} {
		if err := os.WriteFile(filepath.Join(mon, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	logFile := filepath.Join(mon, "processmonitor.log")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pm := exec.CommandContext(ctx, "masakari-processmonitor", "--config-file", filepath.Join(mon, "masakarimonitors.conf"), "--log-file", logFile)
	pm.Env = sdkEnv
	if err := pm.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); pm.Wait() }()
	var process map[string]any
	deadline := time.Now().Add(90 * time.Second)
	for process == nil {
		var page struct {
			Notifications []map[string]any `json:"notifications"`
		}
		r.Call("GET", "/v1/notifications?type=PROCESS", nil, &page)
		if len(page.Notifications) > 0 {
			process = page.Notifications[0]
			break
		}
		if time.Now().After(deadline) {
			data, _ := os.ReadFile(logFile)
			t.Fatalf("no PROCESS notification from masakari-processmonitor in 90 s; its log:\n%s", data)
		}
		time.Sleep(500 * time.Millisecond)
	}
	data, _ := os.ReadFile(logFile)
	if !strings.Contains(string(data), "Response: ") {
		// The notification is stored before the answer is logged.
		time.Sleep(2 * time.Second)
		data, _ = os.ReadFile(logFile)
	}
	if strings.Contains(string(data), "Exception caught") || strings.Contains(string(data), "HttpException: 401") {
		t.Errorf("masakari-processmonitor's log:\n%s", data)
	}
	if payload, _ := process["payload"].(map[string]any); payload["process_name"] != "nova-compute" || payload["event"] != "STOPPED" {
		t.Errorf("process notification: %v", process)
	}
	id, _ := process["notification_uuid"].(string)
	if n := r.WaitFinal(id, time.Minute); n.Notification.Status != "finished" {
		t.Fatalf("process notification ended %s", n.Notification.Status)
	}
}
