package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestServeOpenStackCLI drives kaifuku serve with the real openstack CLI
// (python3-openstackclient with python3-masakariclient), authenticated with
// the token file's token as an admin token. Without the CLI it skips, except
// in CI (CI=true), where a missing CLI is a failure.
func TestServeOpenStackCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon and the openstack CLI")
	}
	cli, err := exec.LookPath("openstack")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the openstack CLI is missing (apt-get install python3-openstackclient python3-masakariclient): %v", err)
		}
		t.Skipf("openstack CLI not installed: %v", err)
	}
	env := newE2EEnv(t, "")
	d := startServe(t, env)

	run := func(out any, args ...string) {
		t.Helper()
		cmd := exec.Command(cli, append(args, "-f", "json")...)
		cmd.Env = append(os.Environ(), "OS_AUTH_TYPE=admin_token", "OS_TOKEN="+d.Token, "OS_ENDPOINT="+d.URL+"/v1",
			"OS_CLOUD=", "OS_AUTH_URL=")
		b, err := cmd.Output()
		if err != nil {
			stderr := ""
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("openstack %s: %v\n%s%s", strings.Join(args, " "), err, b, stderr)
		}
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("openstack %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, b)
		}
	}

	var seg map[string]any
	run(&seg, "segment", "create", "seg-cli", "auto", "COMPUTE", "--description", "made by the CLI")
	segID, _ := seg["uuid"].(string)
	if seg["name"] != "seg-cli" || seg["recovery_method"] != "auto" || seg["is_enabled"] != true || segID == "" {
		t.Fatalf("segment create: %v", seg)
	}
	var segs []map[string]any
	run(&segs, "segment", "list")
	if len(segs) != 1 || segs[0]["uuid"] != segID {
		t.Fatalf("segment list: %v", segs)
	}
	var shown map[string]any
	run(&shown, "segment", "show", segID)
	if shown["description"] != "made by the CLI" || shown["service_type"] != "COMPUTE" {
		t.Fatalf("segment show: %v", shown)
	}

	var host map[string]any
	run(&host, "segment", "host", "create", "compute2", "COMPUTE", "SSH", segID)
	hostID, _ := host["uuid"].(string)
	if host["name"] != "compute2" || host["failover_segment_id"] != segID || host["on_maintenance"] != false || hostID == "" {
		t.Fatalf("host create: %v", host)
	}
	var hosts []map[string]any
	run(&hosts, "segment", "host", "list", segID)
	if len(hosts) != 1 || hosts[0]["uuid"] != hostID {
		t.Fatalf("host list: %v", hosts)
	}
	run(&host, "segment", "host", "show", segID, hostID)
	if host["name"] != "compute2" || host["control_attributes"] != "SSH" {
		t.Fatalf("host show: %v", host)
	}

	var n map[string]any
	run(&n, "notification", "create", "VM", "compute2", time.Now().UTC().Format("2006-01-02T15:04:05.000000"),
		`{"event": "LIFECYCLE", "instance_uuid": "44444444-4444-4444-8444-444444444444", "vir_domain_event": "STOPPED_FAILED"}`)
	nID, _ := n["notification_uuid"].(string)
	if n["type"] != "VM" || n["source_host_uuid"] != hostID || nID == "" {
		t.Fatalf("notification create: %v", n)
	}
	var list []map[string]any
	run(&list, "notification", "list")
	if len(list) != 1 || list[0]["notification_uuid"] != nID {
		t.Fatalf("notification list: %v", list)
	}
	d.WaitFinal(nID, 60*time.Second)
	run(&n, "notification", "show", nID)
	if n["status"] != "finished" {
		t.Fatalf("notification show: %v", n)
	}
	details, _ := n["recovery_workflow_details"].([]any)
	if len(details) != 3 {
		t.Fatalf("notification show: recovery_workflow_details %v", n["recovery_workflow_details"])
	}
}
