package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// `kaifuku serve` with [compute] driver = nova, configured by Masakari's
// [DEFAULT] os_privileged_user_* options, recovering a host of a
// `kaifuku simcloud` subprocess over real HTTP: Keystone login, the whole
// host_auto flow, and not a single password in the logs.
func TestServeWithNovaDriverAgainstSimcloud(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs two processes")
	}
	bin := kaifukuBinary(t)
	dir := t.TempDir()
	fixture := filepath.Join(dir, "cloud.json")
	if err := os.WriteFile(fixture, []byte(e2eFixture), 0o600); err != nil {
		t.Fatal(err)
	}
	const password = "s1mcl0ud-pa55word"
	simURL := startSimcloud(t, bin, fixture, password)

	env := novaEnv(t, dir, simURL, password, "sqlite:///"+filepath.Join(dir, "kaifuku.db"), "[host_failure]\nforce_down_service = true\n")
	d := startServe(t, env)
	if !strings.Contains(d.log(), "Nova at "+simURL+"/v2.1/") {
		t.Fatalf("daemon does not say it drives simcloud's Nova:\n%s", d.log())
	}
	d.setupSegment("compute1", "compute2", "compute3", "compute4")
	id := d.Notify("COMPUTE_HOST", "compute1", map[string]string{"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"})
	n := d.WaitFinal(id, 90*time.Second)
	if n.Notification.Status != "finished" {
		t.Fatalf("notification %s: %+v", n.Notification.Status, n.Notification.Details)
	}

	var counters struct {
		Ops         map[string]int `json:"ops"`
		Evacuations map[string]int `json:"evacuations"`
	}
	getJSON(t, simURL+"/sim/counters", &counters)
	for _, s := range []string{"11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222", "33333333-3333-4333-8333-333333333333"} {
		if counters.Evacuations[s] != 1 {
			t.Errorf("server %s evacuated %d times, want 1 (%v)", s, counters.Evacuations[s], counters.Ops)
		}
	}
	var snap struct {
		Servers []struct {
			Name, Host, Status string
		} `json:"servers"`
		Services []struct {
			Host, Status string
		} `json:"services"`
	}
	getJSON(t, simURL+"/sim/snapshot", &snap)
	for _, s := range snap.Servers {
		if s.Host == "compute1" || s.Status != "ACTIVE" {
			t.Errorf("server %s: %s on %s", s.Name, s.Status, s.Host)
		}
	}
	if snap.Services[0].Host != "compute1" || snap.Services[0].Status != "disabled" {
		t.Errorf("compute1's service: %+v", snap.Services[0])
	}
	var reqs struct {
		Requests map[string]int `json:"requests"`
	}
	getJSON(t, simURL+"/sim/requests", &reqs)
	if reqs.Requests["POST /v3/auth/tokens"] != 1 {
		t.Errorf("logins: %v", reqs.Requests)
	}
	if strings.Contains(d.log(), password) {
		t.Fatal("the Nova password is in the daemon's log")
	}
}

// shortClient bounds every call to simcloud, so that a stuck server fails the
// test instead of hanging it.
var shortClient = &http.Client{Timeout: 10 * time.Second}

func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	resp, err := shortClient.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
}
