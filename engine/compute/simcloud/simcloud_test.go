package simcloud_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simcloud"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
)

type client struct {
	t     *testing.T
	base  string
	token string
	mv    string
}

func (c client) do(method, path, body string) (int, http.Header, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	if c.token != "" {
		req.Header.Set("X-Auth-Token", c.token)
	}
	if c.mv != "" {
		req.Header.Set("X-OpenStack-Nova-API-Version", c.mv)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			c.t.Fatalf("%s %s: not JSON: %s", method, path, raw)
		}
	}
	return resp.StatusCode, resp.Header, m
}

func newServer(t *testing.T, f simulated.Fixture, opts simcloud.Options) (string, *simulated.Cloud) {
	cloud, err := simulated.New(f, clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(simcloud.New(cloud, opts))
	t.Cleanup(srv.Close)
	return srv.URL, cloud
}

func TestKeystone(t *testing.T) {
	url, _ := newServer(t, bedFixture(), simcloud.Options{Password: "right"})
	c := client{t: t, base: url}
	login := `{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"name": "Default"}, "password": "%s"}}}, "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}`
	code, _, body := c.do("POST", "/v3/auth/tokens", strings.Replace(login, "%s", "wrong", 1))
	if code != http.StatusUnauthorized || body["error"] == nil {
		t.Fatalf("wrong password: %d %v", code, body)
	}
	code, h, body := c.do("POST", "/v3/auth/tokens", strings.Replace(login, "%s", "right", 1))
	tok := h.Get("X-Subject-Token")
	if code != http.StatusCreated || tok == "" {
		t.Fatalf("login: %d %v", code, body)
	}
	cat := body["token"].(map[string]any)["catalog"].([]any)
	var computeURL string
	for _, s := range cat {
		s := s.(map[string]any)
		if s["type"] == "compute" {
			for _, e := range s["endpoints"].([]any) {
				e := e.(map[string]any)
				if e["interface"] == "public" && e["region_id"] == simcloud.Region {
					computeURL = e["url"].(string)
				}
			}
		}
	}
	if computeURL != url+"/v2.1" {
		t.Fatalf("catalog compute endpoint %q, want %q", computeURL, url+"/v2.1")
	}
	if code, _, _ := (client{t: t, base: url, token: tok}).do("GET", "/v2.1/os-services", ""); code != http.StatusOK {
		t.Fatalf("compute with the issued token: %d", code)
	}
	code, _, body = c.do("GET", "/v2.1/os-services", "")
	if code != http.StatusUnauthorized || body["error"] == nil {
		t.Fatalf("no token: %d %v", code, body)
	}
	// static tokens are off unless configured
	if code, _, _ := (client{t: t, base: url, token: "admin:admin"}).do("GET", "/v2.1/os-services", ""); code != http.StatusUnauthorized {
		t.Fatalf("unconfigured static token: %d", code)
	}
	code, _, _ = c.do("POST", "/sim/tokens/revoke", "")
	if code != http.StatusOK {
		t.Fatal(code)
	}
	if code, _, _ := (client{t: t, base: url, token: tok}).do("GET", "/v2.1/os-services", ""); code != http.StatusUnauthorized {
		t.Fatalf("revoked token: %d", code)
	}
	code, _, body = c.do("GET", "/v3", "")
	if code != http.StatusOK || body["version"].(map[string]any)["id"] != "v3.14" {
		t.Fatalf("GET /v3: %d %v", code, body)
	}
}

func TestMicroversionsAndErrors(t *testing.T) {
	url, _ := newServer(t, bedFixture(), simcloud.Options{Tokens: []string{"admin:admin"}})
	c := client{t: t, base: url, token: "admin:admin"}
	for _, tc := range []struct {
		mv, method, path, body string
		code                   int
		fault                  string
	}{
		{"2.94", "GET", "/v2.1/os-services", "", http.StatusNotAcceptable, "notAcceptable"},
		{"two", "GET", "/v2.1/os-services", "", http.StatusBadRequest, "badRequest"},
		{"2.53", "GET", "/v2.1/nothing", "", http.StatusNotFound, "itemNotFound"},
		{"2.53", "DELETE", "/v2.1/servers/" + bedSmoke1, "", http.StatusMethodNotAllowed, "badMethod"},
		{"2.53", "POST", "/v2.1/servers/" + bedSmoke1 + "/action", `{"reboot": {"type": "HARD"}}`, http.StatusBadRequest, "badRequest"},
		{"2.53", "POST", "/v2.1/servers/" + bedSmoke1 + "/action", `{"evacuate": {"onSharedStorage": false}}`, http.StatusBadRequest, "badRequest"},
		{"2.1", "POST", "/v2.1/servers/" + bedSmoke1 + "/action", `{"evacuate": {}}`, http.StatusBadRequest, "badRequest"},
		{"2.53", "POST", "/v2.1/servers/" + bedSmoke1 + "/action", `{"os-start": null}`, http.StatusConflict, "conflictingRequest"},
		{"2.53", "POST", "/v2.1/servers/" + bedSmoke1 + "/action", `not json`, http.StatusBadRequest, "badRequest"},
		{"2.53", "PUT", "/v2.1/os-services/" + bedService1, `{"status": "disabled", "bogus": 1}`, http.StatusBadRequest, "badRequest"},
		{"2.53", "GET", "/v2.1/servers/00000000-0000-4000-8000-000000000000", "", http.StatusNotFound, "itemNotFound"},
	} {
		c.mv = tc.mv
		code, h, body := c.do(tc.method, tc.path, tc.body)
		f, _ := body[tc.fault].(map[string]any)
		if code != tc.code || f == nil || f["code"] != float64(tc.code) || f["message"] == "" {
			t.Errorf("%s %s %s at %s: %d %v, want %d with %q", tc.method, tc.path, tc.body, tc.mv, code, body, tc.code, tc.fault)
		}
		if tc.mv == "2.53" && h.Get("OpenStack-API-Version") != "compute 2.53" {
			t.Errorf("%s %s: OpenStack-API-Version %q", tc.method, tc.path, h.Get("OpenStack-API-Version"))
		}
	}
	// before 2.53 services have integer ids and legacy update routes
	c.mv = "2.1"
	code, _, body := c.do("GET", "/v2.1/os-services", "")
	svcs := body["services"].([]any)
	if code != http.StatusOK || svcs[0].(map[string]any)["id"] != float64(1) || svcs[0].(map[string]any)["forced_down"] != nil {
		t.Fatalf("services at 2.1: %v", body)
	}
	code, _, body = c.do("PUT", "/v2.1/os-services/disable-log-reason", `{"host": "compute1", "binary": "nova-compute", "disabled_reason": "maintenance"}`)
	if code != http.StatusOK || body["service"].(map[string]any)["status"] != "disabled" {
		t.Fatalf("legacy disable: %d %v", code, body)
	}
	code, _, body = c.do("GET", "/v2.1/os-services?host=compute1", "")
	if sv := body["services"].([]any)[0].(map[string]any); code != http.StatusOK || sv["disabled_reason"] != "maintenance" {
		t.Fatalf("after legacy disable: %v", body)
	}
	// the same server shows more fields at higher microversions
	c.mv = "2.1"
	_, _, low := c.do("GET", "/v2.1/servers/"+bedSmoke1, "")
	c.mv = "latest"
	_, h, high := c.do("GET", "/v2.1/servers/"+bedSmoke1, "")
	if h.Get("OpenStack-API-Version") != "compute "+simcloud.MaxMicroversion {
		t.Fatalf("latest: %q", h.Get("OpenStack-API-Version"))
	}
	ls, hs := low["server"].(map[string]any), high["server"].(map[string]any)
	for _, k := range []string{"locked", "host_status", "tags", "locked_reason", "server_groups"} {
		if _, ok := ls[k]; ok {
			t.Errorf("%s shown at 2.1", k)
		}
		if _, ok := hs[k]; !ok {
			t.Errorf("%s missing at latest", k)
		}
	}
	if _, ok := ls["flavor"].(map[string]any)["id"]; !ok {
		t.Error("flavor at 2.1 has no id")
	}
	// what the openstack CLI looks names up in
	code, _, body = c.do("GET", "/v2.1/flavors/detail", "")
	if fl := body["flavors"].([]any); code != http.StatusOK || len(fl) != 1 || fl[0].(map[string]any)["name"] != "m1.tiny" {
		t.Fatalf("flavors: %d %v", code, body)
	}
	if code, _, _ := c.do("GET", "/v2.1/flavors/9", ""); code != http.StatusNotFound {
		t.Fatalf("unknown flavor: %d", code)
	}
	code, _, body = c.do("GET", "/image/v2/images", "")
	if im := body["images"].([]any); code != http.StatusOK || len(im) != 1 || im[0].(map[string]any)["id"] != hs["image"].(map[string]any)["id"] {
		t.Fatalf("images: %d %v", code, body)
	}
}

func TestSimControls(t *testing.T) {
	f := bedFixture()
	f.ServiceDownTime = 1
	url, cloud := newServer(t, f, simcloud.Options{Tokens: []string{"admin:admin"}})
	c := client{t: t, base: url, token: "admin:admin", mv: "2.53"}
	code, _, body := c.do("GET", "/sim/", "")
	if code != http.StatusOK || len(body["endpoints"].([]any)) != len(simcloud.SimEndpoints) {
		t.Fatalf("GET /sim/: %d %v", code, body)
	}
	if code, _, _ := c.do("POST", "/sim/hosts/compute1/fail", ""); code != http.StatusOK {
		t.Fatal(code)
	}
	if code, _, body := c.do("POST", "/sim/hosts/compute9/fail", ""); code != http.StatusNotFound || !strings.Contains(body["error"].(map[string]any)["message"].(string), "compute9") {
		t.Fatalf("unknown host: %d %v", code, body)
	}
	// still reported up until service_down_time (1 s) has passed
	_, _, body = c.do("GET", "/v2.1/os-services?host=compute1", "")
	if st := body["services"].([]any)[0].(map[string]any)["state"]; st != "up" {
		t.Fatalf("right after the failure: %v", st)
	}
	time.Sleep(1100 * time.Millisecond)
	_, _, body = c.do("GET", "/v2.1/servers/"+bedSmoke1, "")
	if hs := body["server"].(map[string]any)["host_status"]; hs != "DOWN" {
		t.Fatalf("host_status after service_down_time: %v", hs)
	}
	code, _, body = c.do("POST", "/sim/faults", `{"op": "evacuate", "server": "smoke-2", "error": "conflict", "count": 1}`)
	if code != http.StatusOK {
		t.Fatalf("inject: %d %v", code, body)
	}
	if code, _, body := c.do("POST", "/sim/faults", `{"op": "explode", "error": "conflict"}`); code != http.StatusBadRequest {
		t.Fatalf("bad fault: %d %v", code, body)
	}
	if code, _, body := c.do("POST", "/sim/faults", `{"op": "evacuate", "errr": "conflict"}`); code != http.StatusBadRequest {
		t.Fatalf("unknown field: %d %v", code, body)
	}
	_, _, body = c.do("GET", "/sim/faults", "")
	if n := len(body["faults"].([]any)); n != 1 {
		t.Fatalf("faults: %v", body)
	}
	code, _, body = c.do("POST", "/v2.1/servers/"+bedSmoke2+"/action", `{"evacuate": {"host": "compute2"}}`)
	if code != http.StatusConflict || body["conflictingRequest"] == nil {
		t.Fatalf("injected conflict: %d %v", code, body)
	}
	code, _, _ = c.do("POST", "/v2.1/servers/"+bedSmoke2+"/action", `{"evacuate": {"host": "compute2"}}`)
	if code != http.StatusOK {
		t.Fatalf("evacuate after the fault cleared: %d", code)
	}
	_, _, body = c.do("GET", "/sim/counters", "")
	var counters simulated.Counters
	raw, _ := json.Marshal(body)
	if err := json.Unmarshal(raw, &counters); err != nil {
		t.Fatal(err)
	}
	if counters.Servers[bedSmoke2]["evacuate"] != 2 || counters.Evacuations[bedSmoke2] != 1 {
		t.Fatalf("counters: %+v", counters)
	}
	if got := cloud.Counters(); got.Ops["get_server"] != counters.Ops["get_server"] {
		t.Fatalf("counters differ from the cloud's: %v vs %v", got.Ops, counters.Ops)
	}
	_, _, body = c.do("GET", "/sim/snapshot", "")
	if len(body["migrations"].([]any)) != 1 {
		t.Fatalf("snapshot: %v", body)
	}
	_, _, body = c.do("GET", "/v2.1/os-migrations?migration_type=evacuation&source_compute=compute1", "")
	if m := body["migrations"].([]any); len(m) != 1 || m[0].(map[string]any)["instance_uuid"] != bedSmoke2 {
		t.Fatalf("os-migrations: %v", body)
	}
	if code, _, _ := c.do("DELETE", "/sim/faults", ""); code != http.StatusOK {
		t.Fatal(code)
	}
	if code, _, _ := c.do("POST", "/sim/hosts/compute1/recover", ""); code != http.StatusOK {
		t.Fatal(code)
	}
	_, _, body = c.do("GET", "/sim/requests", "")
	if n := body["requests"].(map[string]any)["POST /servers/{id}/action"]; n != float64(2) {
		t.Fatalf("requests: %v", body)
	}
	if code, _, _ := c.do("GET", "/sim/nothing", ""); code != http.StatusNotFound {
		t.Fatal(code)
	}
}
