package nova_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/kaifuku-ha/kaifuku/engine/compute/nova"
)

// What GetServer and the lists make of the bodies Nova could send: whole,
// chunked, cut short, not JSON, empty.
func TestDecodeAnswers(t *testing.T) {
	const one = `{"server": {"id": "` + srvA + `", "name": "web-1", "status": "ACTIVE", "tenant_id": "demo",
		"user_id": "alice", "metadata": {"HA_Enabled": "True"}, "OS-EXT-SRV-ATTR:host": "compute1",
		"OS-EXT-SRV-ATTR:hypervisor_hostname": "node1", "OS-EXT-STS:vm_state": "active",
		"OS-EXT-STS:task_state": "rebuilding", "OS-EXT-STS:power_state": 1, "locked": true,
		"links": [{"rel": "self", "href": "x"}], "flavor": {"vcpus": 1}}}`
	const list = `{"servers": [{"id": "` + srvB + `", "name": "db-1", "status": "SHUTOFF",
		"OS-EXT-STS:vm_state": "stopped", "OS-EXT-STS:task_state": null, "OS-EXT-STS:power_state": 4}]}`
	type answer struct {
		body    string
		chunked bool // no Content-Length
		short   int  // bytes of the body left out, under a Content-Length of all of it
	}
	var current atomic.Pointer[answer]
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		a := current.Load()
		h := w.Header()
		h.Set("Content-Type", "application/json")
		if !a.chunked {
			h.Set("Content-Length", strconv.Itoa(len(a.body)))
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(a.body[:len(a.body)-a.short]))
		if a.chunked {
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	c, err := nova.New(ctx, conf.Nova{Token: staticToken, Endpoint: srv.URL + "/v2.1", Timeout: 5 * time.Second}, nil,
		nova.WithRetries(3, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	wantA := compute.Server{ID: srvA, Name: "web-1", Status: "ACTIVE", TenantID: "demo", UserID: "alice",
		Metadata: map[string]string{"HA_Enabled": "True"}, Host: "compute1", HypervisorHostname: "node1",
		VMState: "active", TaskState: "rebuilding", PowerState: 1, Locked: true}
	wantB := []compute.Server{{ID: srvB, Name: "db-1", Status: "SHUTOFF", Metadata: map[string]string{},
		VMState: "stopped", PowerState: compute.PowerShutdown}}
	for _, chunked := range []bool{false, true} {
		current.Store(&answer{body: one, chunked: chunked})
		if got, err := c.GetServer(ctx, srvA); err != nil || !reflect.DeepEqual(got, wantA) {
			t.Errorf("chunked %v: GetServer = %+v, %v; want %+v", chunked, got, err, wantA)
		}
		current.Store(&answer{body: list, chunked: chunked})
		if got, err := c.ListServersChangedSince(ctx, time.Now()); err != nil || !reflect.DeepEqual(got, wantB) {
			t.Errorf("chunked %v: ListServersChangedSince = %+v, %v; want %+v", chunked, got, err, wantB)
		}
	}
	for _, tc := range []struct {
		name string
		a    answer
		msg  string
	}{
		{"cut short", answer{body: one, short: 10}, "nova get server " + srvA + ": unexpected EOF"},
		{"not JSON", answer{body: "<html>busy</html>"}, "nova get server " + srvA + ": invalid character '<' looking for beginning of value"},
		{"empty", answer{body: ""}, "nova get server " + srvA + ": EOF"},
		{"wrong type", answer{body: `{"server": {"id": 7}}`}, "nova get server " + srvA + ": json: cannot unmarshal number into Go struct field server.id of type string"},
	} {
		current.Store(&tc.a)
		before := served.Load()
		_, err := c.GetServer(ctx, srvA)
		if !errors.Is(err, compute.ErrUnavailable) || !strings.HasPrefix(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want ErrUnavailable starting %q", tc.name, err, tc.msg)
		}
		if n := served.Load() - before; n != 1 {
			t.Errorf("%s: sent %d times, want once (an answer that cannot be read is not retried)", tc.name, n)
		}
	}
}
