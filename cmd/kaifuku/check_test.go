package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
