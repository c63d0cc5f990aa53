package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine/api"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
)

// computeChecker checks a host name against the cloud's nova-compute services.
func computeChecker(c compute.Cloud) api.ComputeChecker {
	return func(ctx context.Context, name string) (bool, error) {
		svcs, err := c.ListServices(ctx, name, "nova-compute")
		if err != nil {
			return false, err
		}
		for _, s := range svcs {
			if s.Host == name {
				return true, nil
			}
		}
		return false, nil
	}
}

// healthz says whether the engine serves (200 "ok" while it reaches the
// database, 503 otherwise), whether it reaches the compute backend and how
// the last configuration load ended. A refused reload leaves the status
// "ok": the engine goes on serving with the configuration it had, and a load
// balancer must not take it out. An unreachable compute backend makes it
// "degraded", still 200: the API accepts notifications meanwhile.
func (d *Daemon) healthz(w http.ResponseWriter, r *http.Request) {
	n, err := d.db.CountNotifications(r.Context())
	since, werr := d.db.WriteFailure()
	code, body := health(n, err, since, werr)
	if code == http.StatusOK {
		body["running"] = d.svc.Running()
	}
	cs := d.late.state()
	body["compute"] = computeHealth(cs)
	if code == http.StatusOK && !cs.available {
		body["status"] = "degraded"
	}
	body["last_reload"] = d.lastReload()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(body)
}

// lastReload is the last configuration load as /healthz shows it: its
// status ("ok" or "failed"), time and error, and the time of the last
// successful one.
func (d *Daemon) lastReload() map[string]any {
	o := d.loaded.Load()
	out := map[string]any{"status": "ok", "time": o.at.UTC().Format(time.RFC3339), "last_success": o.lastSuccess.UTC().Format(time.RFC3339)}
	if o.err != nil {
		out["status"], out["error"] = "failed", o.err.Error()
	}
	return out
}

// computeHealth is the compute backend as /healthz shows it: "available",
// or "unavailable" with the last failure to reach it and since when.
func computeHealth(s computeState) map[string]any {
	if s.available {
		return map[string]any{"status": "available"}
	}
	out := map[string]any{"status": "unavailable", "since": s.since.UTC().Format(time.RFC3339)}
	if s.err != nil {
		out["error"] = s.err.Error()
	}
	return out
}

// health is /healthz's answer: unhealthy when the database cannot be read
// (countErr) or its last write failed on the storage (writeErr, since then):
// a full disk leaves reads working while every notification is refused.
func health(notifications int, countErr error, since time.Time, writeErr error) (int, map[string]any) {
	switch {
	case countErr != nil:
		return http.StatusServiceUnavailable, map[string]any{"status": "unhealthy", "error": "database: " + countErr.Error()}
	case writeErr != nil:
		return http.StatusServiceUnavailable, map[string]any{"status": "unhealthy",
			"error": fmt.Sprintf("database: writes fail since %s: %v", since.UTC().Format(time.RFC3339), writeErr)}
	}
	return http.StatusOK, map[string]any{"status": "ok", "notifications": notifications}
}

// debugCloud shows the cloud as the engine sees it: nova-compute services
// and the servers on each host (and, for the simulated cloud, its call
// counters).
func (d *Daemon) debugCloud(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	svcs, err := d.cloud.Compute.ListServices(ctx, "", "nova-compute")
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	servers := []compute.Server{}
	for _, s := range svcs {
		on, err := d.cloud.Compute.ListServers(ctx, s.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		servers = append(servers, on...)
	}
	body := map[string]any{"services": svcs, "servers": servers}
	if d.cloud.Simulated != nil {
		body["counters"] = d.cloud.Simulated.Counters()
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(body)
}

// simHostControl lets an operator trying kaifuku on the simulated cloud make
// a host fail (and come back), as a real host would:
//
//	POST /debug/cloud/hosts/{name}/fail     nova-compute dies; Nova reports it down after service_down_time
//	POST /debug/cloud/hosts/{name}/restart  nova-compute comes back
//	POST /debug/cloud/hosts/{name}/recover  restart, force the service up and enable it (the operator's step)
//
// It exists only with [compute] driver = simulated.
func simHostControl(sim *simulated.Cloud) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest := strings.TrimPrefix(r.URL.Path, "/debug/cloud/hosts/")
		name, action, ok := strings.Cut(rest, "/")
		if r.Method != http.MethodPost || !ok || name == "" {
			simControlError(w, http.StatusMethodNotAllowed, "use POST /debug/cloud/hosts/{name}/fail, /restart or /recover")
			return
		}
		var err error
		switch action {
		case "fail":
			err = sim.FailHost(name)
		case "restart":
			err = sim.RestartHost(name)
		case "recover":
			err = sim.RecoverHost(name)
		default:
			simControlError(w, http.StatusNotFound, fmt.Sprintf("unknown action %q: use fail, restart or recover", action))
			return
		}
		if err != nil {
			simControlError(w, http.StatusNotFound, err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"host": name, "done": action})
	})
}

func simControlError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
