package simcloud

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
)

var uuidNamespace = uuid.MustParse("0f4c7f4e-2a3b-4d89-8d0e-6a1d5c9b7e21")

func uuidFor(kind, id string) string {
	return uuid.NewSHA1(uuidNamespace, []byte(kind+"/"+id)).String()
}

// SimEndpoints documents the control endpoints (GET /sim/ returns it).
var SimEndpoints = []map[string]string{
	{"method": "GET", "path": "/sim/", "does": "this list"},
	{"method": "GET", "path": "/sim/snapshot", "does": "the whole state: servers, services, aggregates, migrations, faults"},
	{"method": "GET", "path": "/sim/counters", "does": "Nova calls received: per operation, per server id, per host; evacuations accepted per server"},
	{"method": "GET", "path": "/sim/requests", "does": "HTTP requests received per route, including the ones refused"},
	{"method": "GET", "path": "/sim/hosts", "does": "the hosts of the fixture"},
	{"method": "POST", "path": "/sim/hosts/{name}/fail", "does": "kill the host's nova-compute (reported down after service_down_time)"},
	{"method": "POST", "path": "/sim/hosts/{name}/restart", "does": "restart the host's nova-compute"},
	{"method": "POST", "path": "/sim/hosts/{name}/recover", "does": "restart it, force its service up and enable it (the operator's step)"},
	{"method": "GET", "path": "/sim/faults", "does": "the active faults"},
	{"method": "POST", "path": "/sim/faults", "does": `add a fault, body {"op": "evacuate", "server": "...", "host": "...", "error": "conflict", "count": 1}`},
	{"method": "DELETE", "path": "/sim/faults", "does": "clear every fault"},
	{"method": "POST", "path": "/sim/tokens/revoke", "does": "invalidate every token Keystone issued (clients must log in again)"},
}

// handleSim serves the control endpoints. They need no token: simcloud is a
// test and demo tool bound to loopback.
func (s *Server) handleSim(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/sim"), "/")
	seg := strings.Split(strings.TrimPrefix(p, "/"), "/")
	route := p
	if len(seg) == 3 && seg[0] == "hosts" {
		route = "/hosts/{name}/" + seg[2]
	}
	s.count(r, "/sim"+route)
	get := r.Method == http.MethodGet
	post := r.Method == http.MethodPost
	switch {
	case route == "" && get:
		writeJSON(w, http.StatusOK, map[string]any{"endpoints": SimEndpoints})
	case route == "/snapshot" && get:
		writeJSON(w, http.StatusOK, s.cloud.Snapshot())
	case route == "/counters" && get:
		writeJSON(w, http.StatusOK, s.cloud.Counters())
	case route == "/requests" && get:
		s.mu.Lock()
		out := make(map[string]int, len(s.requests))
		for k, v := range s.requests {
			out[k] = v
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"requests": out})
	case route == "/hosts" && get:
		writeJSON(w, http.StatusOK, map[string]any{"hosts": s.cloud.Hosts()})
	case route == "/hosts/{name}/fail" && post:
		s.simResult(w, s.cloud.FailHost(seg[1]))
	case route == "/hosts/{name}/restart" && post:
		s.simResult(w, s.cloud.RestartHost(seg[1]))
	case route == "/hosts/{name}/recover" && post:
		s.simResult(w, s.cloud.RecoverHost(seg[1]))
	case route == "/faults" && get:
		writeJSON(w, http.StatusOK, map[string]any{"faults": s.cloud.Faults()})
	case route == "/faults" && post:
		var f simulated.Fault
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			simError(w, http.StatusBadRequest, "fault body: "+err.Error())
			return
		}
		s.simResult(w, s.cloud.InjectFault(f))
	case route == "/faults" && r.Method == http.MethodDelete:
		s.cloud.ClearFaults()
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	case route == "/tokens/revoke" && post:
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "revoked": s.tokens.revoke()})
	default:
		simError(w, http.StatusNotFound, "no control endpoint "+r.Method+" "+r.URL.Path+" (GET /sim/ lists them)")
	}
}

func (s *Server) simResult(w http.ResponseWriter, err error) {
	if err == nil {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
		return
	}
	code := http.StatusBadRequest
	var ae *simulated.APIError
	if errors.As(err, &ae) {
		code = ae.Code
	}
	simError(w, code, err.Error())
}

func simError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]any{"error": map[string]any{"code": code, "message": msg}})
}
