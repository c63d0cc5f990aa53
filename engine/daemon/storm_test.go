package daemon_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Through the API of a running daemon: with the storm guard at 50 %, the
// third of four hosts failing within the window is held and nothing of it
// is evacuated; its release lets it recover.
func TestStormGuardHoldsAndReleasesThroughTheAPI(t *testing.T) {
	e := newEnv(t, 10, "[host_failure]\nmax_failed_hosts_percent = 50\nfailed_hosts_window = 600\n")
	// Three of four hosts down, a server on each.
	fx, err := os.ReadFile(filepath.Join("testdata", "storm-cloud.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.dir, "cloud.json"), fx, 0o600); err != nil {
		t.Fatal(err)
	}
	r := e.start(t)
	r.segment("compute1", "compute2", "compute3", "compute4")
	down := map[string]string{"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"}
	for _, h := range []string{"compute1", "compute2"} {
		if n := r.waitFinal(r.notify("COMPUTE_HOST", h, down)); n.Notification.Status != "finished" {
			t.Fatalf("%s: %s, want finished (under the threshold)", h, n.Notification.Status)
		}
	}
	third := r.notify("COMPUTE_HOST", "compute3", down)
	r.waitFor(third, 30*time.Second, "held", func(n shown) bool { return n.Notification.Status == "held" })
	hostOf := func(id string) string {
		for _, s := range r.cloud().Servers {
			if s.ID == id {
				return s.Host
			}
		}
		return ""
	}
	const app3 = "33333333-3333-4333-8333-333333333333"
	if h := hostOf(app3); h != "compute3" {
		t.Fatalf("the held host's server is on %q, want it left on compute3", h)
	}
	r.mustCall("POST", "/v1/notifications/"+third+"/release", nil, 202, nil)
	if n := r.waitFinal(third); n.Notification.Status != "finished" {
		t.Fatalf("released: %s, want finished: %+v", n.Notification.Status, n.Notification.Details)
	}
	if h := hostOf(app3); h == "compute3" || h == "" {
		t.Errorf("after the release the server is on %q, want it evacuated", h)
	}
}
