package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
)

func execute(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

func writeConf(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "masakari.conf")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckDefaults(t *testing.T) {
	out, _, err := execute(t, "check")
	if err != nil || !strings.Contains(out, "configuration is valid") {
		t.Fatalf("out %q err %v", out, err)
	}
}

func TestCheckReportsEveryProblem(t *testing.T) {
	p := writeConf(t, `[DEFAULT]
verify_interval = 1

[taskflow_driver_recovery_flows]
instance_failure_recovery_tasks = pre:['stop_instance_tsk'],main:['start_instance_task'],post:['confirm_instance_active_task']
process_failure_recovery_tasks = pre:['disable_compute_node_task'],main:['evacuate_instances_task'],post:[]
`)
	_, _, err := execute(t, "check", "--config-file", p)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("err %v, want exit 1", err)
	}
	for _, want := range []string{
		`masakari.conf:5:41: [taskflow_driver_recovery_flows] instance_failure_recovery_tasks: pre: unknown task "stop_instance_tsk" (did you mean "stop_instance_task" or "start_instance_task"?)`,
		`masakari.conf:6:75: [taskflow_driver_recovery_flows] process_failure_recovery_tasks: main: task "evacuate_instances_task" requires "instance_list"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks\n%s\ngot\n%s", want, err)
		}
	}
}

func TestFlowsShowsSources(t *testing.T) {
	out, _, err := execute(t, "flows")
	if err != nil {
		t.Fatal(err)
	}
	wantAll(t, "flows output", out,
		"host_rh (host_rh_failure_recovery_tasks, Masakari's default)",
		"main (retried once per reserved host, with reserved_host bound):",
		"requires instance_list <- prepare_HA_enabled_instances_task",
		"reads    reserved_host (optional) <- retry (reserved host)",
		"reads    reserved_host (optional, not available here)",
	)
	out, _, err = execute(t, "flows", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var flows []flowJSON
	if err := json.Unmarshal([]byte(out), &flows); err != nil || len(flows) != 4 {
		t.Fatalf("json: %v (%d flows)", err, len(flows))
	}
	if flows[1].Phases["main"][1].Name != "evacuate_instances_task" {
		t.Fatalf("host_rh main: %+v", flows[1].Phases["main"])
	}
}

// check refuses the settings a shipped script does not declare or cannot
// parse, each at its file and line, with the closest declared name; every
// problem is reported in one run.
func TestCheckRefusesBadTaskSettings(t *testing.T) {
	p := writeConf(t, `[DEFAULT]
scripts_dir = `+shippedScripts(t)+`

[taskflow_driver_recovery_flows]
instance_failure_recovery_tasks = pre:['stop_instance_task'],main:['start_instance_task'],post:['confirm_instance_active_task', 'notify_webhook', 'send_alert_mail']

[notify_webhook]
urll = https://hooks.example.com/kaifuku
retries = three
`)
	_, _, err := execute(t, "check", "--config-file", p)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("err %v, want exit 1", err)
	}
	for _, want := range []string{
		`masakari.conf:8: [notify_webhook] urll: unknown setting, did you mean "url"? (scripts/notify_webhook.lua declares auth_header, channel, fail_on_error, retries, retry_delay, timeout, token, url, username)`,
		`masakari.conf:9: [notify_webhook] retries = "three" is not an integer`,
		`masakari.conf:7: [notify_webhook] url is required: the webhook URL; its host must be listed in [lua] http_allowed_hosts`,
		// No [send_alert_mail] section: the task's place in the flow.
		`masakari.conf:5:148: [send_alert_mail] to is required: the operators' addresses, comma separated`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks\n%s\ngot\n%s", want, err)
		}
	}
	if n := strings.Count(err.Error(), "urll"); n != 1 {
		t.Errorf("the unknown key is reported %d times:\n%s", n, err)
	}
}

// flows shows the settings a Lua task declares.
func TestFlowsShowsDeclaredSettings(t *testing.T) {
	p := writeConf(t, `[DEFAULT]
scripts_dir = `+shippedScripts(t)+`
[taskflow_driver_recovery_flows]
instance_failure_recovery_tasks = pre:['stop_instance_task'],main:['start_instance_task'],post:['confirm_instance_active_task', 'notify_webhook']
[notify_webhook]
url = https://hooks.example.com/kaifuku
`)
	out, _, err := execute(t, "flows", "--config-file", p)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"setting  [notify_webhook] url (string, required): the webhook URL; its host must be listed in [lua] http_allowed_hosts",
		"setting  [notify_webhook] retries (integer, default 2): further attempts after a network error or a 5xx",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("flows output lacks %q:\n%s", want, out)
		}
	}
	out, _, err = execute(t, "flows", "--config-file", p, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var flows []flowJSON
	if err := json.Unmarshal([]byte(out), &flows); err != nil {
		t.Fatal(err)
	}
	post := flows[2].Phases["post"]
	if len(post) != 2 || post[1].Name != "notify_webhook" {
		t.Fatalf("instance post: %+v", post)
	}
	found := false
	for _, st := range post[1].Settings {
		if st == (engine.Setting{Name: "retries", Type: "integer", Default: "2", Doc: "further attempts after a network error or a 5xx"}) {
			found = true
		}
	}
	if !found {
		t.Errorf("flows --json lacks the retries setting: %+v", post[1].Settings)
	}
}

// A real masakari.conf has options kaifuku does not read: check lists each
// once, with its position, instead of dropping it silently.
func TestCheckListsUnusedOptions(t *testing.T) {
	p := writeConf(t, `[DEFAULT]
rpc_response_timeout = 60
transport_url = rabbit://masakari:secret@rabbit:5672/

[oslo_messaging_rabbit]
rabbit_ha_queues = true

[api]
auth_strategy = token
`)
	p2 := filepath.Join(filepath.Dir(p), "override.conf")
	if err := os.WriteFile(p2, []byte("[DEFAULT]\nrpc_response_timeout = 90\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := execute(t, "check", "--config-file", p, "--config-file", p2)
	if err != nil || !strings.Contains(out, "configuration is valid") {
		t.Fatalf("out %q err %v", out, err)
	}
	if !strings.Contains(errOut, "ignoring sections kaifuku does not use: oslo_messaging_rabbit") {
		t.Errorf("unread section not listed: %s", errOut)
	}
	want := "ignoring options kaifuku does not use: " + p + ":2 [DEFAULT] rpc_response_timeout, " + p + ":3 [DEFAULT] transport_url"
	if !strings.Contains(errOut, want) || strings.Count(errOut, "rpc_response_timeout") != 1 {
		t.Errorf("unused options: want %q once in\n%s", want, errOut)
	}
}

// A bad option value does not hide the problems of the flows and the
// scripts: one run reports all of them, ordered by file and line.
func TestCheckReportsConfigScriptAndFlowProblemsTogether(t *testing.T) {
	p := writeConf(t, `[DEFAULT]
verify_interval = 9o

[taskflow_driver_recovery_flows]
instance_failure_recovery_tasks = pre:['stop_instance_tsk'],main:['start_instance_task'],post:['confirm_instance_active_task']
`)
	scripts := filepath.Join(filepath.Dir(p), "scripts")
	if err := os.Mkdir(scripts, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(scripts, "broken.lua"), []byte("-- a task\nfunction execute(store)\n  return {\nend\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := `masakari.conf:2: [DEFAULT] verify_interval: invalid integer "9o"
masakari.conf:5:41: [taskflow_driver_recovery_flows] instance_failure_recovery_tasks: pre: unknown task "stop_instance_tsk" (did you mean "stop_instance_task" or "start_instance_task"?)
scripts/broken.lua:4:3: syntax error near 'end': syntax error`
	// The daemon's start refuses the same configuration with the same list
	// (exit 2: it cannot run); its SIGHUP reload uses the same loader.
	for cmd, code := range map[string]int{"check": 1, "serve": 2} {
		_, _, err := execute(t, cmd, "--config-file", p)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != code {
			t.Fatalf("%s: err %v, want exit %d", cmd, err, code)
		}
		got := strings.ReplaceAll(err.Error(), filepath.Dir(p)+string(filepath.Separator), "")
		if got != want {
			t.Errorf("%s reported\n%s\nwant\n%s", cmd, got, want)
		}
	}
}

// Problems of several files come in reading order, each file's by line,
// whatever order the loader and the flow builder found them in.
func TestSortedProblems(t *testing.T) {
	errs := sortedProblems([]string{"b.conf", "a.conf"},
		errors.Join(&conf.Error{Pos: conf.Pos{File: "a.conf", Line: 3}, Err: errors.New("three")},
			&conf.Error{Pos: conf.Pos{File: "b.conf", Line: 9}, Err: errors.New("nine")}),
		errors.Join(errors.New("scripts/z.lua:2: z"), errors.New("no position"), errors.New("scripts/a.lua:7:1: a"),
			&conf.Error{Pos: conf.Pos{File: "a.conf", Line: 1, Col: 4}, Err: errors.New("one")},
			&conf.Error{Pos: conf.Pos{File: "b.conf", Line: 9}, Err: errors.New("nine")}))
	want := "b.conf:9: nine\na.conf:1:4: one\na.conf:3: three\nscripts/a.lua:7:1: a\nscripts/z.lua:2: z\nno position"
	if got := errs.Error(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// shippedScripts is the absolute path of the repository's scripts/, the Lua
// tasks kaifuku ships.
func shippedScripts(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../../scripts")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}
