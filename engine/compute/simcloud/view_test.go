package simcloud_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/kaifuku-ha/kaifuku/engine/compute/simcloud"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
)

// A server's instance name and reservation id come from its place in the
// fixture, its host_status from its host's service, whether it is shown
// alone (its id in any case) or in a list.
func TestServerViewPlaceAndHostStatus(t *testing.T) {
	hosts := []simulated.Host{
		{Name: "up"},
		{Name: "dead", State: "down"},
		{Name: "maint", Status: "disabled", DisabledReason: "maintenance"},
		{Name: "forced", ForcedDown: true},
	}
	status := map[string]string{"up": "UP", "dead": "DOWN", "maint": "MAINTENANCE", "forced": "DOWN"}
	f := simulated.Fixture{Hosts: hosts}
	for i := range 9 {
		f.Servers = append(f.Servers, simulated.Server{
			ID: fmt.Sprintf("0000000%d-ABCD-4000-8000-00000000000%d", i, i), Name: fmt.Sprintf("vm-%d", i),
			Host: hosts[(i*7)%len(hosts)].Name,
		})
	}
	url, _ := newServer(t, f, simcloud.Options{Tokens: []string{"admin:admin"}})
	c := client{t: t, base: url, token: "admin:admin", mv: "latest"}
	check := func(at string, sv map[string]any, i int) {
		t.Helper()
		want := f.Servers[i]
		if sv["id"] != strings.ToLower(want.ID) {
			t.Errorf("%s: id %v, want %s", at, sv["id"], strings.ToLower(want.ID))
		}
		if got, w := sv["OS-EXT-SRV-ATTR:instance_name"], fmt.Sprintf("instance-%08x", i+1); got != w {
			t.Errorf("%s: instance_name %v, want %s", at, got, w)
		}
		if got, w := sv["OS-EXT-SRV-ATTR:reservation_id"], fmt.Sprintf("r-%08x", i+1); got != w {
			t.Errorf("%s: reservation_id %v, want %s", at, got, w)
		}
		if got, w := sv["host_status"], status[want.Host]; got != w {
			t.Errorf("%s: host_status %v, want %s (host %s)", at, got, w, want.Host)
		}
	}
	for i, s := range f.Servers {
		for _, id := range []string{s.ID, strings.ToLower(s.ID)} {
			code, _, body := c.do("GET", "/v2.1/servers/"+id, "")
			if code != http.StatusOK {
				t.Fatalf("GET /servers/%s: %d %v", id, code, body)
			}
			check("GET /servers/"+id, body["server"].(map[string]any), i)
		}
	}
	code, _, body := c.do("GET", "/v2.1/servers/detail?all_tenants=True", "")
	list, _ := body["servers"].([]any)
	if code != http.StatusOK || len(list) != len(f.Servers) {
		t.Fatalf("GET /servers/detail: %d, %d servers of %d", code, len(list), len(f.Servers))
	}
	for i, sv := range list {
		check(fmt.Sprintf("servers/detail[%d]", i), sv.(map[string]any), i)
	}
	// a host narrows the list, the places stay the fixture's
	_, _, body = c.do("GET", "/v2.1/servers/detail?all_tenants=True&host=maint", "")
	n := 0
	for i, s := range f.Servers {
		if s.Host != "maint" {
			continue
		}
		list := body["servers"].([]any)
		if n >= len(list) {
			t.Fatalf("host=maint lists %d servers", len(list))
		}
		check("servers/detail?host=maint", list[n].(map[string]any), i)
		n++
	}
	if len(body["servers"].([]any)) != n {
		t.Fatalf("host=maint lists %d servers, want %d", len(body["servers"].([]any)), n)
	}
	missing := "00000000-0000-4000-8000-000000000099"
	code, _, body = c.do("GET", "/v2.1/servers/"+missing, "")
	if f, _ := body["itemNotFound"].(map[string]any); code != http.StatusNotFound || f == nil || !strings.Contains(f["message"].(string), missing) {
		t.Fatalf("GET an unknown server: %d %v", code, body)
	}
}
