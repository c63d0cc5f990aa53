package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const examplesDir = "../../conf/examples"

func playJSON(t *testing.T, o runOptions) (runReport, error) {
	t.Helper()
	o.asJSON = true
	if o.logLevel == "" {
		o.logLevel = "error"
	}
	if o.method == "" {
		o.method = "auto"
	}
	var out, errOut bytes.Buffer
	err := runNotification(context.Background(), &out, &errOut, o)
	var rep runReport
	if out.Len() > 0 {
		if jerr := json.Unmarshal(out.Bytes(), &rep); jerr != nil {
			t.Fatalf("output is not JSON: %v\n%s", jerr, out.String())
		}
	}
	return rep, err
}

func TestRunRecoversTheSpecScenarios(t *testing.T) {
	cloud := filepath.Join(examplesDir, "cloud.json")
	for _, tc := range []struct {
		name, notification, method string
		flows                      string
		host                       string // where the failed host's servers must end up ("" to skip)
	}{
		{"host auto", "host-failure.json", "auto", "host_auto", ""},
		{"host reserved host", "host-failure.json", "reserved_host", "host_rh", "compute4"},
		{"instance", "instance-failure.json", "auto", "instance", ""},
		{"process", "process-failure.json", "auto", "process", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := playJSON(t, runOptions{notification: filepath.Join(examplesDir, "notifications", tc.notification), cloud: cloud, method: tc.method})
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if rep.Status != "finished" || strings.Join(rep.Flows, ",") != tc.flows {
				t.Fatalf("status %s flows %v message %s", rep.Status, rep.Flows, rep.Message)
			}
			for _, task := range rep.Tasks {
				if task.State != "SUCCESS" {
					t.Errorf("task %s state %s", task.Name, task.State)
				}
			}
			switch rep.Type {
			case "COMPUTE_HOST":
				for _, s := range rep.Cloud.Servers {
					if s.Host == "compute1" {
						t.Errorf("server %s is still on the failed host", s.ID)
					}
					if tc.host != "" && (s.Name == "app-1" || s.Name == "app-4") && s.Host != tc.host {
						t.Errorf("server %s on %s, want the reserved host %s", s.Name, s.Host, tc.host)
					}
				}
				for _, sv := range rep.Cloud.Services {
					if sv.Host == "compute1" && sv.Status != "disabled" {
						t.Errorf("failed host's service is %s", sv.Status)
					}
				}
			case "PROCESS":
				for _, sv := range rep.Cloud.Services {
					if sv.Host == "compute3" && sv.Status != "disabled" {
						t.Errorf("compute3's service is %s", sv.Status)
					}
				}
			case "VM":
				for _, s := range rep.Cloud.Servers {
					if s.ID == "48059d0b-52d5-4516-bfb5-52edca95b1bc" && s.VMState != "active" {
						t.Errorf("recovered server is %s", s.VMState)
					}
				}
			}
		})
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cloud := filepath.Join(examplesDir, "cloud.json")
	for _, tc := range []struct {
		name string
		o    runOptions
		want string
	}{
		{"no flags", runOptions{}, "run needs --notification FILE and --cloud FIXTURE"},
		{"bad method", runOptions{notification: "x", cloud: "y", method: "magic"}, `--recovery-method "magic" is not one of`},
		{"unknown host", runOptions{notification: write("n1.json", `{"notification": {"type": "COMPUTE_HOST", "hostname": "nowhere", "generated_time": "2026-01-01T00:00:00", "payload": {"event": "STOPPED", "host_status": "NORMAL"}}}`), cloud: cloud},
			`hostname "nowhere" is not a host of the cloud fixture`},
		{"bad type", runOptions{notification: write("n2.json", `{"notification": {"type": "HOST", "hostname": "compute1", "generated_time": "2026-01-01T00:00:00", "payload": {}}}`), cloud: cloud},
			`notification.type: "HOST" is not one of COMPUTE_HOST, VM, PROCESS`},
		{"missing payload key", runOptions{notification: write("n3.json", `{"notification": {"type": "VM", "hostname": "compute1", "generated_time": "2026-01-01T00:00:00", "payload": {"event": "LIFECYCLE"}}}`), cloud: cloud},
			`notification.payload.instance_uuid: missing (required for VM)`},
		{"bad fixture", runOptions{notification: filepath.Join(examplesDir, "notifications", "host-failure.json"), cloud: write("c.json", `{"hosts": [{"name": "a", "reserverd": true}]}`)},
			`reserverd`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.o.method == "" {
				tc.o.method = "auto"
			}
			_, err := playJSON(t, tc.o)
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want exit 2 with %q", err, tc.want)
			}
		})
	}
}

func TestRunFailureExitsOne(t *testing.T) {
	dir := t.TempDir()
	cloud := filepath.Join(dir, "cloud.json")
	// The only other host is down: evacuation has nowhere to go.
	os.WriteFile(cloud, []byte(`{"hosts": [{"name": "compute1", "state": "down"}, {"name": "compute2", "state": "down"}],
	 "servers": [{"id": "7f1c0b7e-5b1a-4c1e-9a43-0d8f6c3e2a11", "name": "vm1", "host": "compute1", "metadata": {"HA_Enabled": "True"}}]}`), 0o644)
	rep, err := playJSON(t, runOptions{notification: filepath.Join(examplesDir, "notifications", "host-failure.json"), cloud: cloud})
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 || rep.Status != "error" {
		t.Fatalf("err %v status %s", err, rep.Status)
	}
	if !strings.Contains(rep.Message, "Failed to evacuate instances '7f1c0b7e-5b1a-4c1e-9a43-0d8f6c3e2a11' from host 'compute1'") {
		t.Fatalf("message %q", rep.Message)
	}
}

func TestRunTimelineText(t *testing.T) {
	var out bytes.Buffer
	err := runNotification(context.Background(), &out, &bytes.Buffer{}, runOptions{
		notification: filepath.Join(examplesDir, "notifications", "instance-failure.json"),
		cloud:        filepath.Join(examplesDir, "cloud.json"), method: "auto", logLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	wantAll(t, "timeline", out.String(), "stop_instance_task  started", "[0.0] Stopping instance: 48059d0b-52d5-4516-bfb5-52edca95b1bc",
		"confirm_instance_active_task  SUCCESS in", "status: finished")
}

// stamps matches the absolute times of a run's report.
var stamps = regexp.MustCompile(`\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?Z?`)

// TestRunIsDeterministicInVirtualTime: parallel evacuations overlap in
// virtual time and the same notification and fixture give the same
// timeline, placements and duration on every run.
func TestRunIsDeterministicInVirtualTime(t *testing.T) {
	o := runOptions{notification: filepath.Join(examplesDir, "notifications", "host-failure.json"), cloud: filepath.Join(examplesDir, "cloud.json")}
	var first []byte
	for i := 0; i < 5; i++ {
		rep, err := playJSON(t, o)
		if err != nil || rep.Status != "finished" {
			t.Fatalf("run %d: %s %v", i, rep.Status, err)
		}
		rep.NotificationUUID = ""
		got, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		// Virtual time starts at the wall clock's second: compare the
		// timeline, not when it began.
		got = stamps.ReplaceAll(got, []byte("TIME"))
		if i == 0 {
			first = got
			// The five evacuations of 1 s each run in parallel: played
			// one after another they took over 5 s of virtual time.
			if rep.DurationSeconds > 4 {
				t.Fatalf("the evacuations did not overlap in virtual time: %.3fs", rep.DurationSeconds)
			}
			continue
		}
		if !bytes.Equal(got, first) {
			t.Fatalf("run %d differs from the first:\n%s\n%s", i, got, first)
		}
	}
}
