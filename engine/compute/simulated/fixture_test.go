package simulated

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kaifuku-ha/kaifuku/engine/clock"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestBadFixtures checks the error texts of broken fixtures against
// testdata/bad/*.golden.
func TestBadFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad fixtures: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			_, err := LoadFixture(file)
			if err == nil {
				t.Fatal("fixture accepted")
			}
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error is %T, want Problems: %v", err, err)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(file, ".json") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden (run with -update to create it): %v", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("error text differs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseFixtureErrors(t *testing.T) {
	tests := []struct {
		name, json, want string
	}{
		{"unknown top key", `{"hosts": [{"name": "c1"}], "servcie_down_time": 5}`,
			`f.json:1:29: unknown key "servcie_down_time" (did you mean "service_down_time"?)`},
		{"unknown host key", "{\"hosts\": [\n {\"name\": \"c1\"},\n {\"name\": \"c2\"},\n {\"name\": \"c3\", \"reserverd\": true}]}",
			`f.json:4:17: hosts[2]: unknown key "reserverd" (did you mean "reserved"?)`},
		{"unknown latency key", `{"hosts": [{"name": "c1"}], "latency_ms": {"evacuation": 5}}`,
			`f.json:1:44: latency_ms: unknown key "evacuation" (did you mean "evacuate"?)`},
		{"syntax", "{\"hosts\": [\n  {\"name\": \"c1\"}\n  {\"name\": \"c2\"}]}",
			`f.json:3:3: invalid character '{' after array element`},
		{"truncated", `{"hosts": [{"name": "c1"}`, `f.json:1:26: unexpected end of file`},
		{"trailing data", `{"hosts": [{"name": "c1"}]} {}`, `f.json:1:29: unexpected data after the JSON object`},
		{"wrong type", `{"hosts": [{"name": "c1", "reserved": "yes"}]}`,
			`f.json:1:39: hosts[0].reserved: want true or false, got a string (write yes without quotes)`},
		{"fraction", `{"hosts": [{"name": "c1"}], "service_down_time": 1.5}`,
			`f.json:1:50: service_down_time: want a whole number, got 1.5`},
		{"unknown vm_state", `{"hosts": [{"name": "c1"}], "servers": [{"id": "7f1c0b7e-5b1a-4c1e-9a43-0d8f6c3e2a11", "name": "vm1", "host": "c1", "vm_state": "stoped"}]}`,
			`f.json:1:129: servers[0].vm_state: unknown vm_state "stoped" (did you mean "stopped"?)`},
		{"server on unknown host", `{"hosts": [{"name": "compute1"}], "servers": [{"id": "7f1c0b7e-5b1a-4c1e-9a43-0d8f6c3e2a11", "name": "vm1", "host": "compute2"}]}`,
			`f.json:1:117: servers[0].host: unknown host "compute2" (did you mean "compute1"?)`},
		{"duplicate name", `{"hosts": [{"name": "c1"}, {"name": "c1"}]}`,
			`f.json:1:37: hosts[1].name: duplicate host name "c1"`},
		{"fault op", `{"hosts": [{"name": "c1"}], "faults": [{"op": "evacute", "error": "never"}]}`,
			`f.json:1:47: faults[0].op: unknown op "evacute" (did you mean "evacuate"?)`},
		{"fault error", `{"hosts": [{"name": "c1"}], "faults": [{"op": "evacuate", "error": "conflit"}]}`,
			`f.json:1:68: faults[0].error: unknown error "conflit": want one of conflict, not_found, invalid, forbidden, unavailable, error, never (did you mean "conflict"?)`},
		{"fault op prefix", `{"hosts": [{"name": "c1"}], "faults": [{"op": "disable", "error": "conflict"}]}`,
			`f.json:1:47: faults[0].op: unknown op "disable" (did you mean "disable_service"?)`},
		{"null top", `null`, `f.json:1:1: want an object, got null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFixture("f.json", []byte(tt.json))
			if err == nil {
				t.Fatal("accepted")
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestParseFixtureIssueExample(t *testing.T) {
	// The fixture of the issue that defined the format, verbatim.
	src := `{"hosts": [
     {"name": "compute1", "status": "enabled", "state": "down", "forced_down": false,
      "reserved": false, "aggregates": ["agg1"]},
     {"name": "compute2", "status": "enabled", "state": "up"},
     {"name": "compute3", "status": "disabled", "state": "up", "reserved": true}],
   "servers": [
     {"id": "7f1c0b7e-5b1a-4c1e-9a43-0d8f6c3e2a11", "name": "vm1", "host": "compute1",
      "vm_state": "active", "task_state": null, "power_state": 1, "locked": false,
      "metadata": {"HA_Enabled": "True"}}],
   "latency_ms": {"api": 0, "stop": 0, "start": 0, "evacuate": 0},
   "service_down_time": 60,
   "faults": [{"op": "evacuate", "server": "7f1c0b7e-5b1a-4c1e-9a43-0d8f6c3e2a11", "error": "never"}]}`
	f, err := ParseFixture("issue.json", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := Fixture{
		Hosts: []Host{
			{Name: "compute1", Status: "enabled", State: "down", Aggregates: []string{"agg1"}},
			{Name: "compute2", Status: "enabled", State: "up"},
			{Name: "compute3", Status: "disabled", State: "up", Reserved: true},
		},
		Servers: []Server{{ID: "7f1c0b7e-5b1a-4c1e-9a43-0d8f6c3e2a11", Name: "vm1", Host: "compute1",
			VMState: "active", PowerState: 1, Metadata: map[string]string{"HA_Enabled": "True"}}},
		ServiceDownTime: 60,
		Faults:          []Fault{{Op: "evacuate", Server: "7f1c0b7e-5b1a-4c1e-9a43-0d8f6c3e2a11", Error: "never"}},
	}
	if diff := cmp.Diff(want, f); diff != "" {
		t.Errorf("fixture (-want +got):\n%s", diff)
	}
	// A Fixture survives encoding/json both ways, so harnesses can build
	// one from other data and `kaifuku run --json` can print it.
	data, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseFixture("round-trip.json", data)
	if err != nil {
		t.Fatalf("re-parse of %s: %v", data, err)
	}
	if diff := cmp.Diff(f, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestEmptyTablesEitherWay(t *testing.T) {
	// Fixtures built from Lua tables cannot tell an empty list from an
	// empty object.
	src := `{"hosts": [{"name": "c1", "aggregates": {}}], "servers": {}, "faults": {},
		"latency_ms": {}}`
	if _, err := ParseFixture("lua", []byte(src)); err != nil {
		t.Fatal(err)
	}
	src = `{"hosts": [{"name": "c1"}], "servers": [{"id": "7f1c0b7e-5b1a-4c1e-9a43-0d8f6c3e2a11",
		"name": "vm1", "host": "c1", "metadata": []}]}`
	if _, err := ParseFixture("lua", []byte(src)); err != nil {
		t.Fatal(err)
	}
}

// TestShippedFixtures loads every cloud fixture in conf/examples (named
// *cloud*.json) and checks the notifications there name things the cloud
// fixture has.
func TestShippedFixtures(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "conf", "examples")
	files, err := filepath.Glob(filepath.Join(dir, "*cloud*.json"))
	if err != nil || len(files) < 2 {
		t.Fatalf("want at least 2 fixtures in %s, got %v (%v)", dir, files, err)
	}
	clouds := map[string]*Cloud{}
	for _, file := range files {
		f, err := LoadFixture(file)
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		c, err := New(f, clock.NewFake(time.Date(2026, 11, 25, 22, 0, 0, 0, time.UTC)))
		if err != nil {
			t.Errorf("%s: New: %v", file, err)
			continue
		}
		clouds[filepath.Base(file)] = c
	}
	demo := clouds["demo-cloud.json"]
	if demo == nil {
		t.Fatal("no demo-cloud.json")
	}
	if got := demo.ReservedHosts(); len(got) == 0 {
		t.Error("demo cloud has no reserved host")
	}
	cloud := clouds["cloud.json"]
	if cloud == nil {
		t.Fatal("no cloud.json")
	}
	snap := cloud.Snapshot()
	hosts := map[string]bool{}
	for _, s := range snap.Services {
		hosts[s.Host] = true
	}
	servers := map[string]ServerState{}
	for _, s := range snap.Servers {
		servers[s.ID] = s
	}
	notes, _ := filepath.Glob(filepath.Join(dir, "notifications", "*.json"))
	if len(notes) != 3 {
		t.Fatalf("want 3 notifications, got %v", notes)
	}
	for _, file := range notes {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Notification struct {
				Type     string            `json:"type"`
				Hostname string            `json:"hostname"`
				Time     string            `json:"generated_time"`
				Payload  map[string]string `json:"payload"`
			} `json:"notification"`
		}
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		n := body.Notification
		if !hosts[n.Hostname] {
			t.Errorf("%s: host %q is not in cloud.json", file, n.Hostname)
		}
		switch n.Type {
		case "VM":
			s, ok := servers[n.Payload["instance_uuid"]]
			if !ok || s.Host != n.Hostname {
				t.Errorf("%s: instance %s is not on %s in cloud.json", file, n.Payload["instance_uuid"], n.Hostname)
			}
		case "COMPUTE_HOST":
			if n.Payload["host_status"] != "NORMAL" || n.Payload["event"] != "STOPPED" {
				t.Errorf("%s: payload %v", file, n.Payload)
			}
			ha := 0
			for _, s := range snap.Servers {
				if s.Host == n.Hostname && s.Metadata["HA_Enabled"] == "True" {
					ha++
				}
			}
			if ha < 3 {
				t.Errorf("%s: %s has %d HA_Enabled servers, want several", file, n.Hostname, ha)
			}
		case "PROCESS":
			if n.Payload["process_name"] != "nova-compute" {
				t.Errorf("%s: payload %v", file, n.Payload)
			}
		default:
			t.Errorf("%s: unknown type %q", file, n.Type)
		}
	}
}
