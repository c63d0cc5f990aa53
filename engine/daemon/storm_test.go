package daemon_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine/daemon/daemontest"
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
	if err := os.WriteFile(filepath.Join(e.Dir, "cloud.json"), fx, 0o600); err != nil {
		t.Fatal(err)
	}
	r := e.Start(t)
	r.Segment("inproc", true, "compute1", "compute2", "compute3", "compute4")
	down := map[string]string{"event": "STOPPED", "host_status": "NORMAL", "cluster_status": "OFFLINE"}
	for _, h := range []string{"compute1", "compute2"} {
		if n := r.WaitFinal(r.Notify("COMPUTE_HOST", h, down), time.Minute); n.Notification.Status != "finished" {
			t.Fatalf("%s: %s, want finished (under the threshold)", h, n.Notification.Status)
		}
	}
	third := r.Notify("COMPUTE_HOST", "compute3", down)
	r.WaitFor(third, 30*time.Second, "held", func(n daemontest.Shown) bool { return n.Notification.Status == "held" })
	hostOf := func(id string) string {
		for _, s := range r.Cloud().Servers {
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
	r.MustCall("POST", "/v1/notifications/"+third+"/release", nil, 202, nil)
	if n := r.WaitFinal(third, time.Minute); n.Notification.Status != "finished" {
		t.Fatalf("released: %s, want finished: %+v", n.Notification.Status, n.Notification.Details)
	}
	if h := hostOf(app3); h == "compute3" || h == "" {
		t.Errorf("after the release the server is on %q, want it evacuated", h)
	}
}
