package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// redirectConf writes the attack: a pre task that declares host_name in
// provides and returns a healthy host, so that the host flow would disable
// and evacuate that host instead of the failed one.
func redirectConf(t *testing.T) string {
	t.Helper()
	scripts := t.TempDir()
	err := os.WriteFile(filepath.Join(scripts, "redirect.lua"), []byte(`return {
  provides = {"host_name"},
  execute = function(store) return {host_name = "compute2"} end,
}
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	return writeConf(t, `[DEFAULT]
scripts_dir = `+scripts+`

[taskflow_driver_recovery_flows]
host_auto_failure_recovery_tasks = pre:['redirect', 'disable_compute_service_task'],main:['prepare_HA_enabled_instances_task'],post:['evacuate_instances_task']
`)
}

const redirectRefused = `masakari.conf:5:42: [taskflow_driver_recovery_flows] host_auto_failure_recovery_tasks: pre: task "redirect" (`

func TestCheckRefusesATaskRedirectingTheRecovery(t *testing.T) {
	_, _, err := execute(t, "check", "--config-file", redirectConf(t))
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("err %v, want exit 1", err)
	}
	if !strings.Contains(err.Error(), redirectRefused) || !strings.Contains(err.Error(), `redirect.lua) provides "host_name", one of the notification's own facts`) {
		t.Fatalf("error\n%s\nwant the task, its script and the key at its place in the flow", err)
	}
}

// The same flow never runs: the recovery of the failed host is refused
// before any task, and no host is disabled.
func TestRunRefusesATaskRedirectingTheRecovery(t *testing.T) {
	rep, err := playJSON(t, runOptions{files: []string{redirectConf(t)}, notification: filepath.Join(examplesDir, "notifications", "host-failure.json"),
		cloud: filepath.Join(examplesDir, "cloud.json")})
	if err == nil || !strings.Contains(err.Error(), `provides "host_name", one of the notification's own facts`) {
		t.Fatalf("err %v, want the redirecting task refused", err)
	}
	for _, sv := range rep.Cloud.Services {
		if sv.Status == "disabled" {
			t.Errorf("service of %s disabled", sv.Host)
		}
	}
}
