package harness

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/builtin"
	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
)

func scriptsDir(t *testing.T, scripts map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name+".lua"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const sleeper = `
return {
  provides = {"waited"},
  timeout = 120,
  execute = function(store)
    progress("waiting a minute", 0.0)
    sleep(60)
    progress("waited a minute", 1.0)
    return {waited = true}
  end,
}
`

const pager = `
return {
  requires = {"host_name"},
  provides = {"ticket"},
  execute = function(store)
    local resp, err = http.request{method = "POST", url = config.url,
      headers = {["Content-Type"] = "application/json"},
      body = json.encode({host = store.host_name, severity = "critical"})}
    if not resp then error("pager: " .. err) end
    if resp.status ~= 201 then error("pager answered " .. resp.status) end
    local ticket = json.decode(resp.body).id
    log.info("ticket opened", {ticket = ticket})
    return {ticket = ticket}
  end,
}
`

const mailScript = `
return {
  requires = {"host_name"},
  execute = function(store)
    local ok, err = smtp.send{to = {config.to}, cc = {"duty@example.com"},
      subject = "host " .. store.host_name .. " failed", body = "recovering"}
    if not ok then error("mail refused: " .. err) end
    return {}
  end,
}
`

const undeclared = `
return {
  provides = {"a"},
  execute = function(store) return {a = 1, b = 2} end,
}
`

func TestFakeTimeMakesASixtySecondSleepInstant(t *testing.T) {
	s := &Suite{Builtins: builtin.Register, ScriptsDir: scriptsDir(t, map[string]string{"sleeper": sleeper})}
	began := time.Now()
	res, err := s.RunTask(context.Background(), "sleeper", TaskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	real := time.Since(began)
	if !res.OK {
		t.Fatalf("task failed: %v", res.Err)
	}
	if res.Duration != 60*time.Second {
		t.Errorf("fake duration %s, want 1m0s", res.Duration)
	}
	// A sanity bound, not a benchmark: the sleep must not have been real.
	if real > 10*time.Second {
		t.Errorf("a 60 s fake sleep took %s of real time", real)
	}
	if res.Provides["waited"] != true {
		t.Errorf("provides %v", res.Provides)
	}
	want := []Progress{
		{Timestamp: "2026-01-01 00:00:00", Progress: "0.0", Message: "waiting a minute"},
		{Timestamp: "2026-01-01 00:01:00", Progress: "1.0", Message: "waited a minute"},
	}
	if len(res.Progress) != 2 || res.Progress[0] != want[0] || res.Progress[1] != want[1] {
		t.Errorf("progress %+v, want %+v", res.Progress, want)
	}
}

func TestFakeTimeHonoursTheTaskTimeout(t *testing.T) {
	src := strings.Replace(sleeper, "timeout = 120", "timeout = 30", 1)
	s := &Suite{Builtins: builtin.Register, ScriptsDir: scriptsDir(t, map[string]string{"sleeper": src})}
	start := time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)
	res, err := s.RunTask(context.Background(), "sleeper", TaskOptions{Fakes: Fakes{Start: start}})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK || res.Duration != 30*time.Second {
		t.Fatalf("ok %v after %s, want a failure after 30s of fake time", res.OK, res.Duration)
	}
	if !strings.Contains(res.Err.Error(), "timed out") && !strings.Contains(res.Err.Error(), "deadline") {
		t.Errorf("error %q does not say it timed out", res.Err)
	}
	if res.Progress[0].Timestamp != "2030-05-01 12:00:00" {
		t.Errorf("fake clock did not start at opts time: %+v", res.Progress)
	}
}

func TestCannedHTTP(t *testing.T) {
	s := &Suite{Builtins: builtin.Register, ScriptsDir: scriptsDir(t, map[string]string{"pager": pager})}
	opts := TaskOptions{
		Store:  engine.Store{"host_name": "compute1"},
		Config: map[string]string{"url": "http://pager.example/api/incidents"},
		Fakes: Fakes{HTTP: []HTTPResponse{
			{Method: "GET", URL: "http://pager.example/api/incidents", Status: 500},
			{Method: "POST", URL: "^http://pager%.example/api/", Pattern: true, Status: 201, Body: `{"id":"P-7"}`},
		}},
	}
	res, err := s.RunTask(context.Background(), "pager", opts)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK || res.Provides["ticket"] != "P-7" || res.Store["ticket"] != "P-7" {
		t.Fatalf("ok %v err %v provides %v", res.OK, res.Err, res.Provides)
	}
	if len(res.HTTPRequests) != 1 {
		t.Fatalf("requests %+v", res.HTTPRequests)
	}
	req := res.HTTPRequests[0]
	body, _ := req.Body.(map[string]any)
	if req.Method != "POST" || body["host"] != "compute1" || req.Headers["Content-Type"] != "application/json" {
		t.Errorf("recorded request %+v", req)
	}
	var logged bool
	for _, e := range res.Logs {
		if e.Message == "ticket opened" && e.Fields["ticket"] == "P-7" && e.Fields["task"] == "pager" &&
			e.Fields["notification_uuid"] == DefaultNotificationUUID {
			logged = true
		}
	}
	if !logged {
		t.Errorf("log entry with task and notification_uuid fields missing: %+v", res.Logs)
	}

	// A failing remote: the script's error, with its file and line.
	opts.HTTP = []HTTPResponse{{Method: "POST", URL: "http://pager.example/api/incidents", Status: 500}}
	res, err = s.RunTask(context.Background(), "pager", opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.OK || !strings.Contains(res.Err.Error(), "pager answered 500") || !strings.Contains(res.Err.Error(), "pager.lua:") {
		t.Errorf("a 500 must fail the task naming the script line: %v", res.Err)
	}

	// A network error.
	opts.HTTP = []HTTPResponse{{URL: "http://pager.example/api/incidents", Error: "connection refused"}}
	res, err = s.RunTask(context.Background(), "pager", opts)
	if err != nil || res.OK || !strings.Contains(res.Err.Error(), "connection refused") {
		t.Errorf("err %v, task error %v", err, res.Err)
	}

	// A request nothing answers fails the run, listing what was expected.
	opts.HTTP = []HTTPResponse{{Method: "POST", URL: "http://other.example/"}}
	opts.Config = map[string]string{"url": "http://other.example/x"}
	res, err = s.RunTask(context.Background(), "pager", opts)
	if err == nil || !strings.Contains(err.Error(), "POST http://other.example/x") || !strings.Contains(err.Error(), "POST http://other.example/ (status 200)") {
		t.Errorf("unmatched request: %v", err)
	}
	if res == nil || res.OK {
		t.Errorf("the task must have seen a failure")
	}
}

func TestCannedResponseTimes(t *testing.T) {
	h := NewFakeHTTP([]HTTPResponse{{URL: "http://x/", Status: 500, Times: 1}, {URL: "http://x/", Status: 200}})
	for _, want := range []int{500, 200, 200} {
		req, _ := http.NewRequest("GET", "http://x/", nil)
		resp, err := h.Do(req)
		if err != nil || resp.StatusCode != want {
			t.Fatalf("got %v %v, want %d", resp, err, want)
		}
	}
}

func TestMailer(t *testing.T) {
	s := &Suite{Builtins: builtin.Register, ScriptsDir: scriptsDir(t, map[string]string{"mailer": mailScript})}
	opts := TaskOptions{Store: engine.Store{"host_name": "compute1"}, Config: map[string]string{"to": "ops@example.com"}}
	res, err := s.RunTask(context.Background(), "mailer", opts)
	if err != nil || !res.OK {
		t.Fatalf("err %v task %v", err, res.Err)
	}
	if len(res.Mails) != 1 || res.Mails[0].To[0] != "ops@example.com" || res.Mails[0].Cc[0] != "duty@example.com" ||
		res.Mails[0].Subject != "host compute1 failed" {
		t.Errorf("mails %+v", res.Mails)
	}
	opts.SMTPRefuse = "554 5.7.1 relay access denied"
	res, err = s.RunTask(context.Background(), "mailer", opts)
	if err != nil || res.OK || !strings.Contains(res.Err.Error(), "554 5.7.1") || len(res.Mails) != 0 {
		t.Errorf("refused mail: err %v, task %v, mails %d", err, res.Err, len(res.Mails))
	}
}

func TestRealProvidesAndRequiresChecks(t *testing.T) {
	s := &Suite{Builtins: builtin.Register, ScriptsDir: scriptsDir(t, map[string]string{"undeclared": undeclared, "pager": pager})}
	res, err := s.RunTask(context.Background(), "undeclared", TaskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK || !strings.Contains(res.Err.Error(), `"b"`) {
		t.Errorf("providing an undeclared key must fail: %v", res.Err)
	}
	_, err = s.RunTask(context.Background(), "pager", TaskOptions{})
	if err == nil || !strings.Contains(err.Error(), `"host_name"`) {
		t.Errorf("a missing required key must be a setup error: %v", err)
	}
	_, err = s.RunTask(context.Background(), "pagr", TaskOptions{})
	if err == nil || !strings.Contains(err.Error(), `did you mean "pager"`) {
		t.Errorf("unknown task: %v", err)
	}
}

const cloudJSON = `{
  "hosts": [
    {"name": "compute1", "state": "down"},
    {"name": "compute2"},
    {"name": "compute3", "status": "disabled", "reserved": true}
  ],
  "servers": [
    {"id": "5d1c1e42-4b4e-4d61-9d3c-3a4a4f7d6b01", "name": "web-1", "host": "compute1", "metadata": {"HA_Enabled": "True"}},
    {"id": "5d1c1e42-4b4e-4d61-9d3c-3a4a4f7d6b02", "name": "db-1", "host": "compute1", "metadata": {}}
  ]
}`

func fixture(t *testing.T) *simulated.Fixture {
	t.Helper()
	fx, err := simulated.ParseFixture("cloud.json", []byte(cloudJSON))
	if err != nil {
		t.Fatal(err)
	}
	return &fx
}

func TestBuiltinTaskOnTheSimulatedCloud(t *testing.T) {
	s := &Suite{Builtins: builtin.Register}
	res, err := s.RunTask(context.Background(), "prepare_HA_enabled_instances_task", TaskOptions{
		Store: engine.Store{"host_name": "compute1"}, Fakes: Fakes{Cloud: fixture(t)}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK {
		t.Fatalf("task failed: %v", res.Err)
	}
	list, _ := res.Provides["instance_list"].([]any)
	// Masakari's default evacuate_all_instances = true: every server of the
	// host, HA-enabled ones first.
	if len(list) != 2 || list[0] != "5d1c1e42-4b4e-4d61-9d3c-3a4a4f7d6b01" {
		t.Errorf("instance_list %v, want both servers, web-1 first", res.Provides["instance_list"])
	}
	if len(res.Progress) == 0 || res.Progress[0].Message != "Preparing instances for evacuation" {
		t.Errorf("progress %+v", res.Progress)
	}
}

func TestRunFlowHostAuto(t *testing.T) {
	s := &Suite{Builtins: builtin.Register}
	res, err := s.RunFlow(context.Background(), FlowOptions{Kind: conf.FlowHostAuto, Fakes: Fakes{Cloud: fixture(t)}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != engine.StatusFinished {
		t.Fatalf("status %s: %s", res.Status, res.Message)
	}
	var names []string
	for _, task := range res.Tasks {
		names = append(names, task.Name)
		if task.State != engine.StateSuccess {
			t.Errorf("task %s: %s %s", task.Name, task.State, task.Error)
		}
	}
	if strings.Join(names, ",") != "disable_compute_service_task,prepare_HA_enabled_instances_task,evacuate_instances_task" {
		t.Errorf("tasks %v", names)
	}
	for _, sv := range res.Cloud.Servers {
		if sv.Name == "web-1" && sv.Host == "compute1" {
			t.Errorf("web-1 was not evacuated: %+v", sv)
		}
	}
	if len(res.Segment) == 0 || !res.Segment[0].OnMaintenance {
		t.Errorf("the failed host must be on maintenance: %+v", res.Segment)
	}
}

func TestRunFlowReservedHost(t *testing.T) {
	s := &Suite{Builtins: builtin.Register}
	res, err := s.RunFlow(context.Background(), FlowOptions{Kind: conf.FlowHostRH, Fakes: Fakes{Cloud: fixture(t)}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != engine.StatusFinished {
		t.Fatalf("status %s: %s", res.Status, res.Message)
	}
	for _, sv := range res.Cloud.Servers {
		if sv.Name == "web-1" && sv.Host != "compute3" {
			t.Errorf("web-1 should be on the reserved host compute3: %+v", sv)
		}
	}
	found := false
	for _, c := range res.HostChanges {
		if c.Host == "compute3" && c.Field == "reserved" && !c.Value {
			found = true
		}
	}
	if !found {
		t.Errorf("the reserved host must be unreserved: %+v", res.HostChanges)
	}
}

func TestRunFlowNeedsAFailedHost(t *testing.T) {
	s := &Suite{Builtins: builtin.Register}
	_, err := s.RunFlow(context.Background(), FlowOptions{Kind: conf.FlowHostAuto})
	if err == nil || !strings.Contains(err.Error(), "no failed host") {
		t.Errorf("err %v", err)
	}
	_, err = s.RunFlow(context.Background(), FlowOptions{Kind: "host"})
	if err == nil || !strings.Contains(err.Error(), `unknown flow kind "host"`) {
		t.Errorf("err %v", err)
	}
}

func TestBadScriptIsALoadError(t *testing.T) {
	s := &Suite{Builtins: builtin.Register, ScriptsDir: scriptsDir(t, map[string]string{"broken": "return {execute = function(store) return {} end\n"})}
	err := s.Check()
	if err == nil || !strings.Contains(err.Error(), "broken.lua") {
		t.Fatalf("err %v", err)
	}
}

// BenchmarkRunTask measures one harness.run_task of a Lua task making an
// HTTP request: loading the scripts, building the fakes and the simulated
// cloud, and the run.
func BenchmarkRunTask(b *testing.B) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pager.lua"), []byte(pager), 0o644); err != nil {
		b.Fatal(err)
	}
	s := &Suite{Builtins: builtin.Register, ScriptsDir: dir}
	opts := TaskOptions{
		Store:  engine.Store{"host_name": "compute1"},
		Config: map[string]string{"url": "http://pager.example/api/incidents"},
		Fakes:  Fakes{HTTP: []HTTPResponse{{Method: "POST", URL: "http://pager.example/api/incidents", Status: 201, Body: `{"id":"P-7"}`}}},
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := s.RunTask(context.Background(), "pager", opts)
		if err != nil || !res.OK {
			b.Fatal(err, res.Err)
		}
	}
}

// BenchmarkRunFlow measures a host failure played through Masakari's default
// host_auto flow on a two-server cloud.
func BenchmarkRunFlow(b *testing.B) {
	fx, err := simulated.ParseFixture("cloud.json", []byte(cloudJSON))
	if err != nil {
		b.Fatal(err)
	}
	s := &Suite{Builtins: builtin.Register}
	b.ReportAllocs()
	for b.Loop() {
		res, err := s.RunFlow(context.Background(), FlowOptions{Kind: conf.FlowHostAuto, Fakes: Fakes{Cloud: &fx}})
		if err != nil || res.Status != engine.StatusFinished {
			b.Fatal(err, res.Status)
		}
	}
}

// TestRunTaskSeesAnEditedScript: compiled scripts are kept between runs of a
// suite, but an edited script is compiled again, and every run starts with
// fresh globals.
func TestRunTaskSeesAnEditedScript(t *testing.T) {
	const src = `
runs = (runs or 0) + 1
return {
  provides = {"answer"},
  execute = function(store) return {answer = "%s " .. runs} end,
}
`
	dir := scriptsDir(t, map[string]string{"answer": strings.Replace(src, "%s", "first", 1)})
	s := &Suite{Builtins: builtin.Register, ScriptsDir: dir}
	for _, want := range []string{"first 1", "first 1"} {
		res, err := s.RunTask(context.Background(), "answer", TaskOptions{})
		if err != nil || !res.OK || res.Provides["answer"] != want {
			t.Fatalf("run: %v %+v", err, res)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "answer.lua"), []byte(strings.Replace(src, "%s", "second", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := s.RunTask(context.Background(), "answer", TaskOptions{})
	if err != nil || !res.OK || res.Provides["answer"] != "second 1" {
		t.Fatalf("after the edit: %v %+v", err, res)
	}
	if err := os.WriteFile(filepath.Join(dir, "answer.lua"), []byte("return {"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RunTask(context.Background(), "answer", TaskOptions{}); err == nil || !strings.Contains(err.Error(), "answer.lua") {
		t.Fatalf("a broken edit: %v", err)
	}
}
