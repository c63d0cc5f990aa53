package main

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// A --config-file that does not exist is bad input (2) for every command,
// named with its path and no Go-internal "stat" wording.
func TestMissingConfigFileIsBadInput(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.conf")
	for _, cmd := range []string{"check", "flows"} {
		_, _, err := execute(t, cmd, "--config-file", missing)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 {
			t.Fatalf("%s: err %v, want exit 2", cmd, err)
		}
		want := "config file " + missing + ": no such file or directory"
		if err.Error() != want {
			t.Errorf("%s: error %q, want %q", cmd, err, want)
		}
	}
}

// A directory given as --config-file is bad input too.
func TestConfigFileThatIsADirectory(t *testing.T) {
	dir := t.TempDir()
	for _, cmd := range []string{"check", "flows"} {
		_, _, err := execute(t, cmd, "--config-file", dir)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 {
			t.Fatalf("%s: err %v, want exit 2", cmd, err)
		}
		if want := "config file " + dir + ": is a directory, not a file"; err.Error() != want {
			t.Errorf("%s: error %q, want %q", cmd, err, want)
		}
	}
}

// flows follows the rule of run and test: an invalid configuration is exit 2.
func TestFlowsInvalidConfigurationIsExit2(t *testing.T) {
	p := writeConf(t, "[taskflow_driver_recovery_flows]\ninstance_failure_recovery_tasks = pre:['stop_instanse_task'],main:['start_instance_task'],post:['confirm_instance_active_task']\n")
	_, _, err := execute(t, "flows", "--config-file", p)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 {
		t.Fatalf("err %v, want exit 2", err)
	}
	if !strings.Contains(err.Error(), `unknown task "stop_instanse_task"`) {
		t.Errorf("error lacks the unknown task: %v", err)
	}
}

// A flow naming a Lua task while the scripts directory does not exist says
// so, instead of only listing the built-in tasks as the known ones.
func TestUnknownTaskWithoutScriptsDirSaysWhy(t *testing.T) {
	p := writeConf(t, "[taskflow_driver_recovery_flows]\nprocess_failure_recovery_tasks = pre:[disable_compute_node_task],main:[confirm_compute_node_disabled_task],post:[send_alert_mail]\n")
	_, _, err := execute(t, "check", "--config-file", p)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("err %v, want exit 1", err)
	}
	want := "no Lua task was loaded: the scripts directory " + filepath.Join(filepath.Dir(p), "scripts") + " does not exist"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error lacks\n%s\ngot\n%v", want, err)
	}

	// A typo in a built-in task's name gets no such hint, with or without
	// a scripts directory: the suggestion is the fix.
	p = writeConf(t, "[taskflow_driver_recovery_flows]\ninstance_failure_recovery_tasks = pre:['stop_instanse_task'],main:['start_instance_task'],post:['confirm_instance_active_task']\n")
	for _, args := range [][]string{
		{"check", "--config-file", p},
		{"check", "--config-file", p, "--config-file", writeConf(t, "[DEFAULT]\nscripts_dir = "+t.TempDir()+"\n")},
	} {
		_, _, err = execute(t, args...)
		if err == nil || strings.Contains(err.Error(), "no Lua task was loaded") || !strings.Contains(err.Error(), `did you mean "stop_instance_task"`) {
			t.Errorf("%v: unexpected hint or no error: %v", args, err)
		}
	}
}

// A task used by several flows (the default host flows share three) with
// a bad settings section is reported once, not once per flow.
func TestTaskSettingsProblemReportedOnce(t *testing.T) {
	p := writeConf(t, "[evacuate_instances_task]\nthreads = 4\n")
	_, _, err := execute(t, "check", "--config-file", p)
	if err == nil {
		t.Fatal("check accepted a settings section for a built-in task")
	}
	msg := `task "evacuate_instances_task": unknown setting threads (` + p + `:2)`
	if n := strings.Count(err.Error(), msg); n != 1 {
		t.Errorf("message found %d times, want once:\n%v", n, err)
	}
}

// Paths are shown relative to the working directory below it, and absolute
// from the root directory.
func TestRelPath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if got := relPath(filepath.Join(dir, "scripts")); got != "scripts" {
		t.Errorf("below the working directory: %q, want scripts", got)
	}
	t.Chdir("/")
	if got := relPath("/etc/kaifuku/scripts"); got != "/etc/kaifuku/scripts" {
		t.Errorf("from /: %q, want the absolute path", got)
	}
}
