package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
)

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
